// One record of an agency's topic as the JSON line `sazesh subscribe` prints: where it sits, what
// it is about, and the event itself as flatc renders it. A record that is not a whole Dossier
// (schemas/dossier.fbs) with a verified event is errc::corrupt, field "feed", naming where it sits;
// so is one whose history is not a piece of its case's hash chain ending with its event, whose
// event does not concern its agency, that sits on another agency's topic, or whose event's
// inclusion proof does not hold against a checkpoint signed by `key` (the log's verifier key).
#pragma once

#include <string>

#include "engine/base/result.h"
#include "engine/kafka/kafka_feed.h"
#include "engine/record/checkpoint.h"

namespace sazesh::cli {

result<std::string> feed_line(const std::string& topic, const feed_record& r, const verifier_key& key);

}  // namespace sazesh::cli
