#include "engine/kafka/kafka_producer.h"

#include <fmt/format.h>
#include <sys/types.h>

#include <algorithm>
#include <system_error>
#include <thread>

namespace sazesh::kafka {
namespace {

std::vector<std::pair<std::string, std::string>> with_id(std::vector<std::pair<std::string, std::string>> settings,
                                                         const std::string& transactional_id) {
  settings.emplace_back("transactional.id", transactional_id);
  return settings;
}

bool fenced_code(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

}  // namespace

transactional_producer::transactional_producer(std::vector<std::pair<std::string, std::string>> settings,
                                               std::string bootstrap, std::string transactional_id, std::string topic)
    : settings_(with_id(std::move(settings), transactional_id)),
      transactional_id_(std::move(transactional_id)),
      topic_(std::move(topic)),
      context_(std::move(bootstrap)) {
  context_.on_delivery = [this](const rd_kafka_message_t& m) { on_delivery(m); };
}

// Any delivery report still queued refers to deliveries_, which goes after the client.
transactional_producer::~transactional_producer() { client_.reset(); }

status transactional_producer::start(deadline until) {
  needs_start_ = true;
  fenced_.reset();  // a new producer id and epoch: this one fences whoever fenced the last
  client_.reset();
  auto made = make_client(RD_KAFKA_PRODUCER, settings_, context_);
  if (!made) return made.error();
  client_ = std::move(*made);
  for (;;) {
    error_ptr e(rd_kafka_init_transactions(client_.get(), remaining_ms(until)));
    if (!e) break;
    if (rd_kafka_error_is_fatal(e.get())) return on_fatal(*e, "starting transactions");
    if (!rd_kafka_error_is_retriable(e.get()) || passed(until)) {
      const error failure = translate(*e, fmt::format("starting transactions as {}", transactional_id_), context_);
      client_.reset();
      return failure;
    }
  }
  // Without the topic's leaders the first produce waits for librdkafka's next metadata round
  // (most of a second); ask now.
  if (auto known = describe_topic(client_.get(), topic_, context_, until); !known) return known.error();
  needs_start_ = false;
  return ok;
}

void transactional_producer::learn_topics(const std::vector<std::string>& topics, deadline until) {
  if (!client_) return;  // not started
  for (const std::string& topic : topics)
    if (!describe_topic(client_.get(), topic, context_, until)) return;  // the cluster is away: no use asking on
}

error transactional_producer::on_fatal(const rd_kafka_error_t& e, std::string_view what) {
  char text[512] = "";
  const rd_kafka_resp_err_t cause = client_ ? rd_kafka_fatal_error(client_.get(), text, sizeof text)
                                            : RD_KAFKA_RESP_ERR_NO_ERROR;
  const rd_kafka_resp_err_t code = cause != RD_KAFKA_RESP_ERR_NO_ERROR ? cause : rd_kafka_error_code(&e);
  const std::string detail = *text ? text : rd_kafka_error_string(&e);
  needs_start_ = true;
  if (fenced_code(rd_kafka_error_code(&e)) || fenced_code(cause)) {
    fenced_ = error(errc::unavailable, "kafka",
                    fmt::format("fenced: another writer of {} took over (transactional id {}, {}: {})", topic_,
                                transactional_id_, rd_kafka_err2name(code), detail));
    return *fenced_;
  }
  return translate(code, what, context_, detail);
}

void transactional_producer::on_delivery(const rd_kafka_message_t& m) {
  const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m._private));
  std::lock_guard lock(delivery_mutex_);
  auto it = deliveries_.find(id);
  if (it == deliveries_.end()) return;
  it->second = delivery{true, m.err, m.offset};
}

// When the abort cannot finish, the next start() aborts the transaction instead (its
// init_transactions settles whatever the old producer left open).
void transactional_producer::abort(deadline until) {
  for (;;) {
    error_ptr e(rd_kafka_abort_transaction(client_.get(), remaining_ms(until)));
    if (!e) return;
    if (rd_kafka_error_is_fatal(e.get())) {
      (void)on_fatal(*e, "aborting a transaction");
      return;
    }
    if (!rd_kafka_error_is_retriable(e.get()) || passed(until)) {
      needs_start_ = true;
      return;
    }
  }
}

error transactional_producer::failed(txn_failure kind, const error& why) {
  last_failure_ = kind;
  switch (kind) {
    case txn_failure::aborted:
    case txn_failure::fenced:
      return error(why.code(), why.field(), why.rule() + "; nothing was written");
    case txn_failure::unknown:
      return error(why.code(), why.field(), why.rule() + "; the outcome is unknown: retry with the same command id");
    case txn_failure::none:
      break;
  }
  return why;
}

status transactional_producer::produce_all(const std::vector<outgoing_record>& records,
                                           std::vector<std::uint64_t>& ids, deadline until) {
  for (const outgoing_record& r : records) {
    const std::uint64_t id = [&] {
      std::lock_guard lock(delivery_mutex_);
      deliveries_.emplace(next_delivery_id_, delivery{});
      return next_delivery_id_++;
    }();
    ids.push_back(id);
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
    for (const auto& [name, value] : r.headers)
      rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
    for (;;) {
      // RD_KAFKA_V_VALUE takes a non-const pointer; with RD_KAFKA_MSG_F_COPY librdkafka copies
      // the bytes and never writes through it.
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          client_.get(), RD_KAFKA_V_TOPIC(r.topic->c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // the message owns the headers now
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !passed(until)) {
        rd_kafka_poll(client_.get(), 10);
        continue;
      }
      rd_kafka_headers_destroy(headers);
      const std::string what = fmt::format("producing to {}", *r.topic);
      if (err == RD_KAFKA_RESP_ERR__FATAL) {
        // The client is dead: say why (a fence, most often), in the one wording for it.
        error_ptr fatal(rd_kafka_error_new(err, "%s", "fatal error"));
        return on_fatal(*fatal, what);
      }
      return translate(err, what, context_);
    }
  }
  return ok;
}

status transactional_producer::commit(deadline until) {
  for (;;) {
    error_ptr e(rd_kafka_commit_transaction(client_.get(), remaining_ms(until)));
    if (!e) return ok;
    if (rd_kafka_error_is_fatal(e.get())) {
      const error why = on_fatal(*e, "committing a transaction");
      return failed(fenced_ ? txn_failure::fenced : txn_failure::unknown, why);
    }
    if (rd_kafka_error_txn_requires_abort(e.get())) {
      const error why = translate(*e, "committing a transaction", context_);
      abort(until);
      // An abort refused as fenced: another writer took the id while this transaction ran. Said
      // as a fence, so the writer does not take the topic back on its own in a retry.
      if (fenced_) return failed(txn_failure::fenced, *fenced_);
      return failed(txn_failure::aborted, error(why.code(), why.field(), why.rule() + "; the transaction was aborted"));
    }
    if (rd_kafka_error_is_retriable(e.get()) && !passed(until)) continue;
    needs_start_ = true;
    return failed(txn_failure::unknown, translate(*e, "committing a transaction", context_));
  }
}

std::vector<transactional_producer::delivery> transactional_producer::take_deliveries(
    const std::vector<std::uint64_t>& ids) {
  std::lock_guard lock(delivery_mutex_);
  std::vector<delivery> out;
  out.reserve(ids.size());
  for (const std::uint64_t id : ids) {
    auto it = deliveries_.find(id);
    out.push_back(it == deliveries_.end() ? delivery{} : it->second);
    if (it != deliveries_.end()) deliveries_.erase(it);
  }
  return out;
}

result<std::vector<std::int64_t>> transactional_producer::run_transaction(const std::vector<outgoing_record>& records,
                                                                          deadline until) {
  last_failure_ = txn_failure::none;
  if (fenced_) return failed(txn_failure::fenced, *fenced_);
  if (!ready())
    return failed(txn_failure::aborted,
                  error(errc::unavailable, "kafka", "the producer is not started (the last start failed)"));
  rd_kafka_poll(client_.get(), 0);  // serve anything left over (late reports, errors)
  if (error_ptr e{rd_kafka_begin_transaction(client_.get())}) {
    if (rd_kafka_error_is_fatal(e.get())) {
      const error why = on_fatal(*e, "beginning a transaction");
      return failed(fenced_ ? txn_failure::fenced : txn_failure::aborted, why);
    }
    needs_start_ = true;
    return failed(txn_failure::aborted, translate(*e, "beginning a transaction", context_));
  }
  std::vector<std::uint64_t> ids;
  if (auto produced = produce_all(records, ids, until); !produced) {
    abort(until);
    (void)take_deliveries(ids);
    return failed(fenced_ ? txn_failure::fenced : txn_failure::aborted, produced.error());
  }
  const status committed = commit(until);
  const std::vector<delivery> reports = take_deliveries(ids);
  if (!committed) return committed.error();
  // A committed transaction delivered every record; if a report is missing anyway, the caller
  // re-reads the topic rather than guess.
  std::vector<std::int64_t> offsets;
  for (const delivery& d : reports) {
    if (!d.reported || d.err != RD_KAFKA_RESP_ERR_NO_ERROR || d.offset < 0) {
      needs_start_ = true;
      return failed(txn_failure::unknown,
                    error(errc::io, "kafka", "the transaction committed but some delivery reports were missing"));
    }
    offsets.push_back(d.offset);
  }
  return offsets;
}

producer_rotation::producer_rotation(const std::vector<std::pair<std::string, std::string>>& settings,
                                     const std::string& bootstrap, const std::vector<std::string>& transactional_ids,
                                     std::size_t in_turn, const std::string& topic)
    : in_turn_(std::clamp<std::size_t>(in_turn, 1, std::max<std::size_t>(transactional_ids.size(), 1))) {
  for (const std::string& id : transactional_ids)
    producers_.push_back(std::make_unique<transactional_producer>(settings, bootstrap, id, topic));
}

status producer_rotation::start(deadline until) {
  // Each start is a few round trips to the coordinator; side by side they cost one.
  std::vector<status> started(producers_.size(), ok);
  std::vector<std::thread> others;
  others.reserve(producers_.size());
  std::size_t threaded = 1;  // producers [1, threaded) start on threads of their own
  try {
    for (; threaded < producers_.size(); ++threaded)
      others.emplace_back([&started, this, i = threaded, until] { started[i] = producers_[i]->start(until); });
  } catch (const std::system_error&) {
    // No thread to be had: the rest start here, one after another.
  }
  for (std::size_t i = threaded; i < producers_.size(); ++i) started[i] = producers_[i]->start(until);
  if (!producers_.empty()) started[0] = producers_[0]->start(until);
  for (auto& t : others) t.join();
  next_ = 0;
  for (const status& s : started)
    if (!s) return s;
  return ok;
}

bool producer_rotation::ready() const {
  return std::all_of(producers_.begin(), producers_.end(), [](const auto& p) { return p->ready(); });
}

result<std::vector<std::int64_t>> producer_rotation::run_transaction(const std::vector<outgoing_record>& records,
                                                                     deadline until) {
  last_ = producers_[next_].get();
  next_ = (next_ + 1) % in_turn_;
  return last_->run_transaction(records, until);
}

void producer_rotation::learn_side_topics(const std::vector<std::string>& topics, deadline until) {
  producers_.front()->learn_topics(topics, until);
}

result<std::vector<std::int64_t>> producer_rotation::run_side_transaction(const std::vector<outgoing_record>& records,
                                                                          deadline until) {
  last_ = producers_.front().get();
  return last_->run_transaction(records, until);
}

}  // namespace sazesh::kafka
