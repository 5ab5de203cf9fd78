// kafka_producer: a transactional librdkafka producer that runs one transaction at a time and
// says, when one fails, what it left behind. Private to engine/kafka/kafka_log.cc.
//
//   transactional_producer p(settings, "sazesh.engine", "sazesh.events");
//   p.start(until);                                   // init_transactions: fences older ones
//   auto offsets = p.run_transaction(records, until); // one transaction, committed or not
//   if (!offsets && p.last_failure() == txn_failure::aborted) …  // nothing was written
//
// Thread safety: one thread at a time (the log's leader).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/base/result.h"

namespace sazesh::kafka {

// What a failed transaction left behind.
enum class txn_failure {
  none,     // the last transaction committed
  aborted,  // aborted (or never committed, and the next start aborts it): nothing is visible
  fenced,   // another producer took the transactional id: nothing committed; start() again to
            // take it back (which fences that one)
  unknown,  // the commit did not finish in time: committed or not; start() again to settle it
};

// One record of a transaction. The pointers must stay valid during run_transaction.
struct outgoing_record {
  const std::string* topic;
  std::int32_t partition;  // RD_KAFKA_PARTITION_UA: by key
  std::string_view key;
  std::string_view value;
  std::vector<std::pair<const char*, std::string_view>> headers;
};

class transactional_producer {
 public:
  // `settings` are the client's (bootstrap and the caller's pass-through settings included; the
  // transactional id is added to them); `topic` is the one whose leaders are looked up at start,
  // so the first produce need not wait.
  transactional_producer(std::vector<std::pair<std::string, std::string>> settings, std::string bootstrap,
                         std::string transactional_id, std::string topic);
  ~transactional_producer();
  transactional_producer(const transactional_producer&) = delete;
  transactional_producer& operator=(const transactional_producer&) = delete;

  // (Re)starts the producer: a new client whose init_transactions fences every older producer
  // with the transactional id and settles its open transaction.
  status start(deadline until);
  // Started, not fenced, and no failure since that calls for a new start().
  bool ready() const { return client_ != nullptr && !fenced_ && !needs_start_; }
  const std::optional<error>& fenced() const { return fenced_; }

  // Produces `records` in one transaction and commits it: each record's offset, in order. On
  // failure, last_failure() says what was left behind, and the error's rule says it in words.
  result<std::vector<std::int64_t>> run_transaction(const std::vector<outgoing_record>& records, deadline until);
  txn_failure last_failure() const { return last_failure_; }
  // Looks up the leaders of `topics` (made since the start), so the first produce to them need
  // not wait for librdkafka's next metadata round. Best effort: a topic it could not look up
  // (the cluster slow to answer, a broker that has not heard of it yet) only makes that wait.
  void learn_topics(const std::vector<std::string>& topics, deadline until);

 private:
  struct delivery {
    bool reported = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::int64_t offset = -1;
  };

  error on_fatal(const rd_kafka_error_t& e, std::string_view what);
  void on_delivery(const rd_kafka_message_t& m);
  void abort(deadline until);
  status produce_all(const std::vector<outgoing_record>& records, std::vector<std::uint64_t>& ids, deadline until);
  status commit(deadline until);
  std::vector<delivery> take_deliveries(const std::vector<std::uint64_t>& ids);
  error failed(txn_failure kind, const error& why);

  const std::vector<std::pair<std::string, std::string>> settings_;
  const std::string transactional_id_;
  const std::string topic_;
  client_context context_;  // before client_: outlives it
  client_ptr client_;
  std::optional<error> fenced_;
  bool needs_start_ = true;
  txn_failure last_failure_ = txn_failure::none;

  // Delivery reports are matched by the number in each message's opaque: one arriving after its
  // transaction gave up (an abort's purge) finds nothing here and is dropped.
  std::mutex delivery_mutex_;
  std::unordered_map<std::uint64_t, delivery> deliveries_;
  std::uint64_t next_delivery_id_ = 1;
};

// Transactions taken in turn by a few producers, each with its own transactional id. After a
// commit the coordinator still writes the transaction's markers; until they are written it
// refuses that id's next AddPartitionsToTxn with CONCURRENT_TRANSACTIONS, and librdkafka tries
// again only after a fixed 20 ms. The next transaction goes through the next producer instead,
// whose last commit is older. Transactions still run one at a time, in the caller's order.
//
//   producer_rotation writers(settings, bootstrap, {"p.engine", "p.engine.1"}, 2, "p.events");
//   writers.start(until);                                  // every id, fencing older holders
//   auto offsets = writers.run_transaction(records, until);  // the next producer's turn
//
// start() fences every id given, also those beyond the `in_turn` first that transactions take
// turns on: a writer that uses fewer still stops one that uses more.
//
// Thread safety: one thread at a time (the log's leader).
class producer_rotation {
 public:
  producer_rotation(const std::vector<std::pair<std::string, std::string>>& settings, const std::string& bootstrap,
                    const std::vector<std::string>& transactional_ids, std::size_t in_turn, const std::string& topic);

  // (Re)starts every producer, all at once; returns once each has fenced the older holders of
  // its id and settled what they left open, or the first failure.
  status start(deadline until);
  bool ready() const;
  result<std::vector<std::int64_t>> run_transaction(const std::vector<outgoing_record>& records, deadline until);
  // A transaction to topics other than the start's (checkpoints, agencies' feeds): always through
  // the first producer, which then knows their leaders. A producer producing to a topic for the
  // first time waits for librdkafka's next metadata round; once per producer is enough.
  result<std::vector<std::int64_t>> run_side_transaction(const std::vector<outgoing_record>& records, deadline until);
  // The first producer looks up the leaders of topics its side transactions use (best effort,
  // as learn_topics).
  void learn_side_topics(const std::vector<std::string>& topics, deadline until);
  // What the last transaction left behind.
  txn_failure last_failure() const { return last_ ? last_->last_failure() : txn_failure::none; }
  // How many producers transactions take turns on.
  std::size_t in_turn() const { return in_turn_; }

 private:
  std::vector<std::unique_ptr<transactional_producer>> producers_;
  std::size_t in_turn_;
  std::size_t next_ = 0;
  transactional_producer* last_ = nullptr;  // the one that ran the last transaction
};

}  // namespace sazesh::kafka
