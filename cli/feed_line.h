// One record of an agency's topic as the JSON line `sazesh subscribe` prints: where it sits, what
// it is about, and the event itself as flatc renders it. A record that is not a whole Dossier
// (schemas/dossier.fbs) with a verified event is errc::corrupt, field "feed", naming where it sits;
// so is one whose history is not a piece of its case's hash chain ending with its event, whose
// event does not concern its agency, or that sits on another agency's topic.
#pragma once

#include <string>

#include "engine/base/result.h"
#include "engine/kafka/kafka_feed.h"

namespace sazesh::cli {

result<std::string> feed_line(const std::string& topic, const feed_record& r);

}  // namespace sazesh::cli
