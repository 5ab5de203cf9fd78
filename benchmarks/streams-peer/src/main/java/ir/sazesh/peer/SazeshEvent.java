package ir.sazesh.peer;

import java.nio.ByteBuffer;
import java.util.Map;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

import sazesh.schema.AgencyDecided;
import sazesh.schema.CaseAccepted;
import sazesh.schema.CaseClosed;
import sazesh.schema.CaseFiled;
import sazesh.schema.CaseResolved;
import sazesh.schema.DocumentAttached;
import sazesh.schema.DocumentsRequested;
import sazesh.schema.Envelope;
import sazesh.schema.Event;
import sazesh.schema.MediationConcluded;

/**
 * One record of the events topic, decoded: the Envelope's stream id, time and event type, and
 * the few fields of the event union that the projections below read. Everything else (texts,
 * hashes, amounts) is left in the buffer, never copied.
 */
final class SazeshEvent {
  String streamId;
  long timeMs;
  byte type;               // sazesh.schema.Event
  // Set for the event types that carry them, else unused.
  String businessId;       // CaseFiled
  int category = -1;       // CaseFiled, CaseAccepted
  int kind = -1;           // DocumentAttached
  byte[] kinds;            // DocumentsRequested
  int outcome = -1;        // MediationConcluded
  int resolution = -1;     // CaseResolved
  int closeReason = -1;    // CaseClosed
  int verdict = -1;        // AgencyDecided

  /** Party events (registrations, seal restrictions) belong to party streams, not cases. */
  boolean isCaseEvent() {
    return type >= Event.CaseFiled;
  }

  static SazeshEvent decode(byte[] bytes) {
    ByteBuffer bb = ByteBuffer.wrap(bytes);
    if (bytes.length < 8 || !Envelope.EnvelopeBufferHasIdentifier(bb))
      throw new SerializationException("not a Sazesh envelope (file identifier SZEV missing)");
    try {
      Envelope env = Envelope.getRootAsEnvelope(bb);
      SazeshEvent e = new SazeshEvent();
      e.streamId = env.streamId();
      e.timeMs = env.timeMs();
      e.type = env.payloadType();
      switch (e.type) {
        case Event.CaseFiled -> {
          CaseFiled f = (CaseFiled) env.payload(new CaseFiled());
          e.businessId = f.businessId();
          e.category = f.category();
        }
        case Event.CaseAccepted -> e.category = ((CaseAccepted) env.payload(new CaseAccepted())).category();
        case Event.DocumentAttached -> e.kind = ((DocumentAttached) env.payload(new DocumentAttached())).kind();
        case Event.DocumentsRequested -> {
          DocumentsRequested r = (DocumentsRequested) env.payload(new DocumentsRequested());
          e.kinds = new byte[r.kindsLength()];
          for (int i = 0; i < e.kinds.length; i++) e.kinds[i] = (byte) r.kinds(i);
        }
        case Event.MediationConcluded ->
            e.outcome = ((MediationConcluded) env.payload(new MediationConcluded())).outcome();
        case Event.CaseResolved -> e.resolution = ((CaseResolved) env.payload(new CaseResolved())).resolution();
        case Event.CaseClosed -> e.closeReason = ((CaseClosed) env.payload(new CaseClosed())).reason();
        case Event.AgencyDecided -> e.verdict = ((AgencyDecided) env.payload(new AgencyDecided())).verdict();
        default -> { }
      }
      return e;
    } catch (IndexOutOfBoundsException | IllegalArgumentException ex) {
      // FlatBuffers' Java runtime has no verifier: a truncated or corrupt buffer shows up here.
      throw new SerializationException("corrupt Sazesh envelope", ex);
    }
  }

  /**
   * The value deserializer of the events topic. A record that does not decode raises a
   * SerializationException, which Kafka Streams hands to its deserialization exception handler
   * (log and fail by default, as our projector stops on a record it cannot project).
   */
  static final class EnvelopeDeserializer implements Deserializer<SazeshEvent> {
    @Override
    public void configure(Map<String, ?> configs, boolean isKey) { }

    @Override
    public SazeshEvent deserialize(String topic, byte[] data) {
      return data == null ? null : decode(data);
    }
  }
}
