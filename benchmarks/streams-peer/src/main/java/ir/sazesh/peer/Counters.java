package ir.sazesh.peer;

import java.nio.ByteBuffer;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The business projection's row ("businesses" store, keyed by business id), and also what one
 * case contributes to it (the value sent through the repartition topic). The names are the
 * scorecard's counter names (projections/rows.h), with the same meaning:
 *   complaints           cases filed against the business (CaseFiled)
 *   open_cases           of those, the ones not closed, rejected or withdrawn
 *   unanswered           ResponseUnanswered events
 *   settled_negotiation  CaseResolved events other than by mediation
 *   settled_mediation    CaseResolved events by mediation
 *   referred             ReferredToAgency events
 *   rejected             CaseRejected events
 *   withdrawn            CaseWithdrawn events
 * A business row is the sum of its cases' contributions: the table aggregation adds a case's
 * new contribution and subtracts its previous one on every change of the case row.
 */
final class Counters {
  static final String[] NAMES = {
      "complaints", "open_cases", "unanswered", "settled_negotiation", "settled_mediation",
      "referred", "rejected", "withdrawn"};
  static final int COMPLAINTS = 0, OPEN_CASES = 1;

  final long[] values = new long[NAMES.length];

  static Counters of(CaseState c) {
    Counters k = new Counters();
    long[] v = k.values;
    v[0] = 1;
    v[1] = c.isOpen() ? 1 : 0;
    v[2] = c.unanswered;
    v[3] = c.settledNegotiation;
    v[4] = c.settledMediation;
    v[5] = c.referred;
    v[6] = c.rejected;
    v[7] = c.withdrawn;
    return k;
  }

  /** this + sign * other, as a new row (aggregators must not change their input in place). */
  Counters plus(Counters other, int sign) {
    Counters out = new Counters();
    for (int i = 0; i < values.length; i++) out.values[i] = values[i] + sign * other.values[i];
    return out;
  }

  // ---- Serde: fixed-width longs; small rows, few of them ----

  static final Serde<Counters> SERDE = Serdes.serdeFrom(new Ser(), new De());

  static final class Ser implements Serializer<Counters> {
    @Override
    public byte[] serialize(String topic, Counters c) {
      if (c == null) return null;
      ByteBuffer bb = ByteBuffer.allocate(8 * NAMES.length);
      for (long v : c.values) bb.putLong(v);
      return bb.array();
    }
  }

  static final class De implements Deserializer<Counters> {
    @Override
    public Counters deserialize(String topic, byte[] data) {
      if (data == null) return null;
      if (data.length != 8 * NAMES.length) throw new SerializationException("bad counters row");
      Counters c = new Counters();
      ByteBuffer bb = ByteBuffer.wrap(data);
      for (int i = 0; i < NAMES.length; i++) c.values[i] = bb.getLong();
      return c;
    }
  }
}
