package ir.sazesh.peer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

import sazesh.schema.Event;
import sazesh.schema.MediationOutcome;
import sazesh.schema.Resolution;

/**
 * The case projection: one row per case id, the value of the "cases" state store.
 *
 * evolve() follows engine/domain/evolve.cc (evolve_case) for everything this row holds: the status
 * transitions (including the documents still missing, which decide when awaiting_documents
 * goes back to awaiting_triage), the category as filed and as corrected by triage, and what
 * projections/rows.cc needs for a case's outcome (close reason, resolution, agency verdict).
 * It also counts, per case, the events the business projection sums up.
 */
final class CaseState {
  // engine/domain/state.h case_status, in its order; the names are to_string(case_status).
  static final String[] STATUS = {
      "awaiting_documents", "awaiting_triage", "with_business", "negotiation", "remedy_due",
      "remedy_confirmation", "awaiting_mediator", "in_mediation", "mediation_failed", "referred",
      "closed", "rejected", "withdrawn"};
  static final byte AWAITING_DOCUMENTS = 0, AWAITING_TRIAGE = 1, WITH_BUSINESS = 2, NEGOTIATION = 3,
      REMEDY_DUE = 4, REMEDY_CONFIRMATION = 5, AWAITING_MEDIATOR = 6, IN_MEDIATION = 7,
      MEDIATION_FAILED = 8, REFERRED = 9, CLOSED = 10, REJECTED = 11, WITHDRAWN = 12;

  byte status = AWAITING_TRIAGE;
  long events;
  String businessId = "";
  byte category;
  long filedAt;
  long lastEventAt;
  byte[] missingDocuments = new byte[0];
  byte closeReason = -1;   // sazesh.schema.CloseReason, -1: none
  byte resolution = -1;    // sazesh.schema.Resolution, -1: none
  byte verdict = -1;       // sazesh.schema.AgencyVerdict, -1: none
  // This case's share of its business's counters (see Counters).
  int unanswered, settledNegotiation, settledMediation, referred, rejected, withdrawn;

  static boolean isOpen(byte status) {
    return status != CLOSED && status != REJECTED && status != WITHDRAWN;
  }

  boolean isOpen() {
    return isOpen(status);
  }

  boolean filed() {
    return filedAt != 0 || !businessId.isEmpty();
  }

  /**
   * The aggregator of the case table: the row after one more event. A new object, never the
   * old one changed in place: Kafka Streams forwards the old row too (the business table's
   * subtractor needs it), and without a cache in between that is the very object passed in.
   */
  CaseState evolve(SazeshEvent e) {
    return copy().apply(e);
  }

  private CaseState copy() {
    CaseState c = new CaseState();
    c.status = status;
    c.events = events;
    c.businessId = businessId;
    c.category = category;
    c.filedAt = filedAt;
    c.lastEventAt = lastEventAt;
    c.missingDocuments = missingDocuments;  // never changed in place either
    c.closeReason = closeReason;
    c.resolution = resolution;
    c.verdict = verdict;
    c.unanswered = unanswered;
    c.settledNegotiation = settledNegotiation;
    c.settledMediation = settledMediation;
    c.referred = referred;
    c.rejected = rejected;
    c.withdrawn = withdrawn;
    return c;
  }

  private CaseState apply(SazeshEvent e) {
    events += 1;
    lastEventAt = e.timeMs;
    switch (e.type) {
      case Event.CaseFiled -> {
        status = AWAITING_TRIAGE;
        businessId = e.businessId == null ? "" : e.businessId;
        category = (byte) e.category;
        filedAt = e.timeMs;
      }
      case Event.DocumentAttached -> {
        missingDocuments = without(missingDocuments, (byte) e.kind);
        if (status == AWAITING_DOCUMENTS && missingDocuments.length == 0) status = AWAITING_TRIAGE;
      }
      case Event.DocumentsRequested -> {
        missingDocuments = e.kinds;
        status = AWAITING_DOCUMENTS;
      }
      case Event.CaseAccepted -> category = (byte) e.category;
      case Event.CaseRejected -> {
        end(REJECTED);
        rejected += 1;
      }
      case Event.ForwardedToBusiness -> status = WITH_BUSINESS;
      case Event.ResponseUnanswered -> unanswered += 1;
      case Event.BusinessResponded -> status = NEGOTIATION;
      case Event.OfferAccepted -> status = REMEDY_DUE;
      case Event.RemedyFulfilled -> status = REMEDY_CONFIRMATION;
      case Event.MediationRequested -> status = AWAITING_MEDIATOR;
      case Event.MediatorAssigned -> status = IN_MEDIATION;
      case Event.MediationConcluded -> {
        if (e.outcome == MediationOutcome.failed) status = MEDIATION_FAILED;
      }
      case Event.ReferredToAgency -> {
        status = REFERRED;
        referred += 1;
      }
      case Event.AgencyDecided -> verdict = (byte) e.verdict;
      case Event.CaseResolved -> {
        resolution = (byte) e.resolution;
        if (e.resolution == Resolution.mediation) settledMediation += 1;
        else settledNegotiation += 1;
      }
      case Event.CaseClosed -> {
        end(CLOSED);
        closeReason = (byte) e.closeReason;
      }
      case Event.CaseWithdrawn -> {
        end(WITHDRAWN);
        withdrawn += 1;
      }
      case Event.CaseReopened -> {
        closeReason = -1;
        resolution = -1;
        verdict = -1;
        status = AWAITING_MEDIATOR;  // MediationRequested follows
      }
      default -> { }  // the other case events change nothing this row holds
    }
    return this;
  }

  private void end(byte s) {
    status = s;
    missingDocuments = new byte[0];
  }

  private static byte[] without(byte[] kinds, byte kind) {
    int n = 0;
    for (byte k : kinds) if (k != kind) n++;
    if (n == kinds.length) return kinds;
    byte[] out = new byte[n];
    int i = 0;
    for (byte k : kinds) if (k != kind) out[i++] = k;
    return out;
  }

  /** projections/rows.cc outcome_of: how the case ended, or "open". */
  String outcome() {
    switch (status) {
      case REJECTED: return "rejected";
      case WITHDRAWN: return "withdrawn";
      case CLOSED:
        if (closeReason == sazesh.schema.CloseReason.incomplete) return "incomplete";
        if (closeReason == sazesh.schema.CloseReason.agency_decided)
          return "agency_" + (verdict >= 0 ? sazesh.schema.AgencyVerdict.name(verdict) : "decided");
        if (resolution == Resolution.mediation) return "settled_mediation";
        return "settled_negotiation";
      default: return "open";
    }
  }

  String statusName() {
    return STATUS[status];
  }

  // ---- Serde: a compact binary row (the store and its changelog hold millions of these) ----

  static final Serde<CaseState> SERDE = Serdes.serdeFrom(new Ser(), new De());

  static final class Ser implements Serializer<CaseState> {
    @Override
    public byte[] serialize(String topic, CaseState c) {
      if (c == null) return null;
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        out.writeByte(c.status);
        out.writeLong(c.events);
        out.writeUTF(c.businessId);
        out.writeByte(c.category);
        out.writeLong(c.filedAt);
        out.writeLong(c.lastEventAt);
        out.writeByte(c.missingDocuments.length);
        out.write(c.missingDocuments);
        out.writeByte(c.closeReason);
        out.writeByte(c.resolution);
        out.writeByte(c.verdict);
        out.writeInt(c.unanswered);
        out.writeInt(c.settledNegotiation);
        out.writeInt(c.settledMediation);
        out.writeInt(c.referred);
        out.writeInt(c.rejected);
        out.writeInt(c.withdrawn);
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
      return bytes.toByteArray();
    }
  }

  static final class De implements Deserializer<CaseState> {
    @Override
    public CaseState deserialize(String topic, byte[] data) {
      if (data == null) return null;
      CaseState c = new CaseState();
      try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
        c.status = in.readByte();
        c.events = in.readLong();
        c.businessId = in.readUTF();
        c.category = in.readByte();
        c.filedAt = in.readLong();
        c.lastEventAt = in.readLong();
        c.missingDocuments = new byte[in.readUnsignedByte()];
        in.readFully(c.missingDocuments);
        c.closeReason = in.readByte();
        c.resolution = in.readByte();
        c.verdict = in.readByte();
        c.unanswered = in.readInt();
        c.settledNegotiation = in.readInt();
        c.settledMediation = in.readInt();
        c.referred = in.readInt();
        c.rejected = in.readInt();
        c.withdrawn = in.readInt();
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
      return c;
    }
  }
}
