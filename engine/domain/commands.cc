#include "engine/domain/commands.h"

#include <array>

namespace sazesh {

const char* command_name(const command& c) {
  // In the order of the variant's alternatives.
  static constexpr std::array<const char*, std::variant_size_v<command>> names{
      "register_consumer", "register_business", "register_agency", "register_mediator",
      "restrict_seal", "reinstate_seal", "file_case", "attach_document", "accept_case",
      "reject_case", "request_documents", "respond", "post_message", "make_offer", "accept_offer",
      "reject_offer", "mark_remedy_fulfilled", "confirm_remedy", "report_remedy_not_fulfilled",
      "request_mediation", "assign_mediator", "propose_settlement", "conclude_mediation",
      "refer_case", "acknowledge_referral", "extend_referral", "transfer_referral",
      "decide_referral", "withdraw_case", "rate_case", "reopen_case", "apply_deadlines", "issue_credential", "revoke_credential", "forget_party"};
  return names[c.index()];
}

}  // namespace sazesh
