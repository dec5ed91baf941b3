#include "tests/cache/property_run.h"

#include <algorithm>
#include <iterator>

namespace radixserve::cache::testing {

std::string PropertyRun::Run(int steps) {
  for (step_ = 0; step_ < steps; ++step_) {
    op_.clear();
    std::string err = Step();
    if (err.empty()) err = Verify();
    if (!err.empty()) return Where() + err;
  }
  op_ = "teardown";
  std::vector<std::string> ids;
  for (auto& [id, s] : model_) ids.push_back(id);
  for (auto& id : ids) {
    if (!m_->DeleteSession(id).ok()) return Where() + "delete failed";
  }
  model_.clear();
  for (auto& [pin, blocks] : prefix_pins_) {
    if (!m_->UnpinPrefix(pin).ok()) return Where() + "unpin prefix failed";
  }
  prefix_pins_.clear();
  m_->ClearPrefixCache();
  evicted_ = m_->Stats().tree.evicted_blocks;
  if (auto s = m_->CheckInvariants(); !s.ok()) return Where() + s.ToString();
  CacheStats st = m_->Stats();
  if (st.device_free != cfg_.device_blocks || st.host_free != cfg_.host_blocks ||
      st.tree.num_nodes != 0 || st.tree.cached_blocks != 0) {
    return Where() + absl::StrCat("leak: device free ", st.device_free, "/", cfg_.device_blocks,
                                  ", host free ", st.host_free, "/", cfg_.host_blocks,
                                  ", tree nodes ", st.tree.num_nodes);
  }
  return "";
}

std::string PropertyRun::Step() {
  const int dice = Uniform(0, 99);
  if (dice < 8) return OpCreate();
  if (dice < 38) return OpAppend();
  if (dice < 46) return OpCommit();
  if (dice < 52) return OpFork();
  if (dice < 60) return OpTruncate();
  if (dice < 65) return OpDelete();
  if (dice < 70) return OpMatch();
  if (dice < 73) return OpEvict();
  if (dice < 79) return OpOffload();
  if (dice < 85) return OpRestore();
  if (dice < 88) return OpDrop();
  if (dice < 93) return OpPin();
  if (dice < 96) return OpPinPrefix();
  if (dice < 98) return OpPreempt();
  return OpExpireOrClear();
}

std::string PropertyRun::OpCreate() {
  op_ = "create";
  if (model_.size() >= 10) return OpDelete();
  SessionOptions so;
  if (Chance(0.2)) so.max_blocks = Uniform(2, 12);
  if (Chance(0.1)) so.idle_timeout = absl::Seconds(Uniform(5, 50));
  if (Chance(0.05)) so.ttl = absl::Seconds(Uniform(20, 200));
  auto id = m_->CreateSession(so);
  if (!id.ok()) return id.status().ToString();
  ModelSession s;
  s.quota = so.max_blocks;
  s.tmpl = Uniform(0, 2);
  model_[*id] = s;
  ++ok_;
  return "";
}

std::string PropertyRun::OpAppend() {
  const std::string id = PickId();
  auto it = model_.find(id);
  const int k = Uniform(0, 3) == 0 ? Uniform(8, 40) : Uniform(1, 4);
  std::vector<TokenId> toks = it == model_.end() ? std::vector<TokenId>{1} : NewTokens(it->second, k);
  op_ = absl::StrCat("append ", toks.size(), " to ", id);
  const std::vector<BlockId> before = Table(id);
  auto plan = m_->Append(id, toks);
  if (!plan.ok() && Table(id) != before) return "a failed append changed the block table";
  if (it == model_.end()) return Expect(plan.status(), absl::StatusCode::kNotFound);
  ModelSession& s = it->second;
  if (s.swapped) return Expect(plan.status(), absl::StatusCode::kFailedPrecondition);
  const int64_t total = static_cast<int64_t>(s.tokens.size() + toks.size());
  const int added = Blocks(total) - Blocks(s.tokens.size());
  if (s.quota > 0 && Blocks(total) > s.quota) {
    return Expect(plan.status(), absl::StatusCode::kResourceExhausted);
  }
  if (s.pinned && added > 0 && ModelPinnedBlocks() + added > cfg_.max_pinned) {
    return Expect(plan.status(), absl::StatusCode::kResourceExhausted);
  }
  if (!plan.ok()) return Expect(plan.status(), absl::StatusCode::kResourceExhausted);
  const int64_t old = static_cast<int64_t>(s.tokens.size());
  if (plan->cached_tokens > 0 && (old % cfg_.block_size != 0 || s.computed != old)) {
    return "prefix hit on a session that is not block-aligned and idle";
  }
  if (plan->cached_tokens >= static_cast<int64_t>(toks.size())) return "the last token was not left to compute";
  if (plan->first_position != old + plan->cached_tokens ||
      static_cast<int64_t>(plan->slots.size()) != total - plan->first_position) {
    return "plan does not cover the new tokens";
  }
  s.tokens.insert(s.tokens.end(), toks.begin(), toks.end());
  s.computed += plan->cached_tokens;
  Execute(s.tokens, *plan);
  ++ok_;
  if (Chance(0.7)) {
    // The step ran: commit all of it, or part (chunked prefill).
    const int64_t n = Chance(0.8) ? total - s.computed : Uniform(0, static_cast<int>(total - s.computed));
    if (auto st = m_->Commit(id, n); !st.ok()) return "commit after append: " + st.ToString();
    s.computed += n;
  }
  return "";
}

std::string PropertyRun::OpCommit() {
  const std::string id = PickId();
  auto it = model_.find(id);
  const int64_t pending = it == model_.end() || it->second.swapped
                              ? 0
                              : static_cast<int64_t>(it->second.tokens.size()) - it->second.computed;
  const int64_t n = Chance(0.1) ? pending + 1 : Uniform(0, static_cast<int>(pending));
  op_ = absl::StrCat("commit ", n, " of ", id);
  absl::Status st = m_->Commit(id, n);
  if (it == model_.end()) return Expect(st, absl::StatusCode::kNotFound);
  if (it->second.swapped) return Expect(st, absl::StatusCode::kFailedPrecondition);
  if (n > pending) return Expect(st, absl::StatusCode::kOutOfRange);
  if (!st.ok()) return st.ToString();
  it->second.computed += n;
  ++ok_;
  return "";
}

std::string PropertyRun::OpFork() {
  const std::string id = PickId();
  op_ = "fork " + id;
  if (model_.size() >= 10) return OpDelete();
  auto it = model_.find(id);
  auto child = m_->ForkSession(id);
  if (it == model_.end()) return Expect(child.status(), absl::StatusCode::kNotFound);
  const ModelSession& p = it->second;
  if (p.swapped || p.computed < static_cast<int64_t>(p.tokens.size())) {
    return Expect(child.status(), absl::StatusCode::kFailedPrecondition);
  }
  if (!child.ok()) return child.status().ToString();
  ModelSession c = p;
  c.pinned = false;
  model_[*child] = c;
  ++ok_;
  return "";
}

std::string PropertyRun::OpTruncate() {
  const std::string id = PickId();
  auto it = model_.find(id);
  const int n = it == model_.end() ? 0 : static_cast<int>(it->second.tokens.size());
  const int64_t len = Chance(0.05) ? n + 1 : Uniform(0, n);
  op_ = absl::StrCat("truncate ", id, " to ", len);
  absl::Status st = m_->Truncate(id, len);
  if (it == model_.end()) return Expect(st, absl::StatusCode::kNotFound);
  if (len > n) return Expect(st, absl::StatusCode::kOutOfRange);
  if (!st.ok()) return st.ToString();
  it->second.tokens.resize(len);
  it->second.computed = std::min<int64_t>(it->second.computed, len);
  ++ok_;
  return "";
}

std::string PropertyRun::OpDelete() {
  const std::string id = PickId();
  op_ = "delete " + id;
  absl::Status st = m_->DeleteSession(id);
  if (!model_.count(id)) return Expect(st, absl::StatusCode::kNotFound);
  if (!st.ok()) return st.ToString();
  model_.erase(id);
  ++ok_;
  return "";
}

std::string PropertyRun::OpMatch() {
  // A query from one of the templates, of random length.
  const auto& t = templates_[Uniform(0, 2)];
  std::vector<TokenId> q(t.begin(), t.begin() + Uniform(0, static_cast<int>(t.size())));
  op_ = absl::StrCat("match ", q.size());
  const int64_t cached = m_->PeekCachedTokens(q);
  if (cached % cfg_.block_size != 0 || (cached > 0 && cached >= static_cast<int64_t>(q.size()))) {
    return absl::StrCat("peek returned ", cached, " cached tokens for ", q.size());
  }
  if (m_->BlocksNeededForPrompt(q) != Blocks(q.size()) - cached / cfg_.block_size) {
    return "BlocksNeededForPrompt disagrees with PeekCachedTokens";
  }
  ++ok_;
  return "";
}

std::string PropertyRun::OpEvict() {
  const int n = Uniform(1, 6);
  op_ = absl::StrCat("evict ", n);
  const int64_t evictable = m_->Stats().tree.evictable_blocks;
  const int32_t freed = m_->EvictCachedBlocks(n);
  if (freed != std::min<int64_t>(n, evictable)) {
    return absl::StrCat("evicted ", freed, " of ", n, " with ", evictable, " evictable");
  }
  ++ok_;
  return "";
}

std::string PropertyRun::OpOffload() {
  const std::string id = PickId();
  op_ = "offload " + id;
  auto it = model_.find(id);
  const std::vector<BlockId> before = Table(id);
  auto pairs = m_->Offload(id);
  if (!pairs.ok() && Table(id) != before) return "a failed offload changed the block table";
  if (it == model_.end()) return Expect(pairs.status(), absl::StatusCode::kNotFound);
  ModelSession& s = it->second;
  if (s.swapped || s.pinned || s.computed < static_cast<int64_t>(s.tokens.size())) {
    return Expect(pairs.status(), absl::StatusCode::kFailedPrecondition);
  }
  if (ModelHostUsed() + Blocks(s.tokens.size()) > cfg_.host_blocks) {
    return Expect(pairs.status(), absl::StatusCode::kResourceExhausted);
  }
  if (!pairs.ok()) return pairs.status().ToString();
  if (static_cast<int>(pairs->size()) != Blocks(s.tokens.size())) return "wrong number of swap pairs";
  CopyBlocks(*pairs, /*to_host=*/true);
  s.swapped = true;
  ++ok_;
  return "";
}

std::string PropertyRun::OpRestore() {
  const std::string id = PickId();
  op_ = "restore " + id;
  auto it = model_.find(id);
  const auto free_before = m_->Stats().host_free;
  auto r = m_->Restore(id);
  if (!r.ok() && m_->Stats().host_free != free_before) return "a failed restore released host blocks";
  if (it == model_.end()) return Expect(r.status(), absl::StatusCode::kNotFound);
  ModelSession& s = it->second;
  if (!s.swapped) return Expect(r.status(), absl::StatusCode::kFailedPrecondition);
  if (!r.ok()) return Expect(r.status(), absl::StatusCode::kResourceExhausted);
  CopyBlocks(r->swap_in, /*to_host=*/false);
  if (s.recompute) {
    s.computed = r->cached_tokens;
    Execute(s.tokens, r->recompute);
    if (Chance(0.8)) {
      const int64_t n = static_cast<int64_t>(s.tokens.size()) - s.computed;
      if (auto st = m_->Commit(id, n); !st.ok()) return st.ToString();
      s.computed += n;
    }
  } else if (!r->recompute.slots.empty()) {
    return "restore of a host copy planned a recompute";
  }
  s.swapped = s.recompute = false;
  ++ok_;
  return "";
}

std::string PropertyRun::OpDrop() {
  const std::string id = PickId();
  op_ = "drop " + id;
  auto it = model_.find(id);
  absl::Status st = m_->DropForRecompute(id);
  if (it == model_.end()) return Expect(st, absl::StatusCode::kNotFound);
  ModelSession& s = it->second;
  if (s.swapped || s.pinned) return Expect(st, absl::StatusCode::kFailedPrecondition);
  if (!st.ok()) return st.ToString();
  s.swapped = s.recompute = true;
  s.computed = 0;
  ++ok_;
  return "";
}

std::string PropertyRun::OpPin() {
  const std::string id = PickId();
  auto it = model_.find(id);
  const bool unpin = it != model_.end() && it->second.pinned && Chance(0.6);
  op_ = (unpin ? "unpin " : "pin ") + id;
  absl::Status st = unpin ? m_->UnpinSession(id) : m_->PinSession(id);
  if (it == model_.end()) return Expect(st, absl::StatusCode::kNotFound);
  ModelSession& s = it->second;
  if (unpin) {
    if (!st.ok()) return st.ToString();
    s.pinned = false;
  } else if (s.pinned) {
    if (!st.ok()) return st.ToString();
  } else if (s.swapped) {
    return Expect(st, absl::StatusCode::kFailedPrecondition);
  } else if (ModelPinnedBlocks() + Blocks(s.tokens.size()) > cfg_.max_pinned) {
    return Expect(st, absl::StatusCode::kResourceExhausted);
  } else {
    if (!st.ok()) return st.ToString();
    s.pinned = true;
  }
  ++ok_;
  return "";
}

std::string PropertyRun::OpPinPrefix() {
  if (!prefix_pins_.empty() && Chance(0.5)) {
    auto it = prefix_pins_.begin();
    op_ = absl::StrCat("unpin prefix ", it->first);
    if (auto st = m_->UnpinPrefix(it->first); !st.ok()) return st.ToString();
    prefix_pins_.erase(it);
    ++ok_;
    return "";
  }
  const auto& t = templates_[Uniform(0, 2)];
  std::vector<TokenId> q(t.begin(), t.begin() + Uniform(0, 24));
  op_ = absl::StrCat("pin prefix of ", q.size());
  const int want = static_cast<int>(q.size()) / cfg_.block_size;
  const int64_t cached = m_->PeekCachedTokens(q) / cfg_.block_size;
  auto pin = m_->PinPrefix(q);
  if (want == 0) return Expect(pin.status(), absl::StatusCode::kInvalidArgument);
  // Peek caps at size - 1, so a fully cached aligned prefix shows want - 1 there.
  if (pin.status().code() == absl::StatusCode::kNotFound) {
    return cached + 1 >= want ? (cached >= want ? "pin said not cached, peek says cached" : "") : "";
  }
  if (ModelPinnedBlocks() + want > cfg_.max_pinned) {
    return Expect(pin.status(), absl::StatusCode::kResourceExhausted);
  }
  if (!pin.ok()) return pin.status().ToString();
  if (cached + 1 < want) return "pinned a prefix that peek says is not cached";
  prefix_pins_[*pin] = want;
  ++ok_;
  return "";
}

std::string PropertyRun::OpPreempt() {
  const int need = Uniform(1, cfg_.device_blocks);
  op_ = absl::StrCat("preempt for ", need);
  std::vector<std::string> keep;
  if (!model_.empty() && Chance(0.5)) keep.push_back(model_.begin()->first);
  auto plan = m_->PlanPreemption(need, keep);
  if (!plan.ok()) return Expect(plan.status(), absl::StatusCode::kResourceExhausted);
  for (const Preemption& p : *plan) {
    if (!keep.empty() && p.session_id == keep[0]) return "preempted a session it was told to keep";
    ModelSession& s = model_.at(p.session_id);
    if (s.pinned || s.swapped) return "preempted a pinned or swapped session";
    if (p.action == PreemptAction::kSwap) {
      auto pairs = m_->Offload(p.session_id);
      if (!pairs.ok()) return "planned swap failed: " + pairs.status().ToString();
      CopyBlocks(*pairs, true);
      s.swapped = true;
    } else {
      if (auto st = m_->DropForRecompute(p.session_id); !st.ok()) return st.ToString();
      s.swapped = s.recompute = true;
      s.computed = 0;
    }
  }
  if (m_->AvailableBlocks() < need) {
    return absl::StrCat("after the plan only ", m_->AvailableBlocks(), " of ", need, " are available");
  }
  ++ok_;
  return "";
}

std::string PropertyRun::OpExpireOrClear() {
  if (Chance(0.5)) {
    op_ = "clear prefix cache";
    m_->ClearPrefixCache();
    if (m_->Stats().tree.evictable_blocks != 0) return "evictable blocks left after a clear";
    ++ok_;
    return "";
  }
  now_ += absl::Seconds(Uniform(1, 30));
  op_ = "expire";
  for (const std::string& id : m_->ExpireSessions()) {
    auto it = model_.find(id);
    if (it == model_.end()) return "expired an unknown session " + id;
    if (!it->second.swapped && it->second.computed < static_cast<int64_t>(it->second.tokens.size())) {
      return "expired a running session " + id;
    }
    model_.erase(it);
  }
  ++ok_;
  return "";
}

std::string PropertyRun::Verify() {
  if (auto s = m_->CheckInvariants(); !s.ok()) return s.ToString();
  const int bs = cfg_.block_size;
  for (auto& [id, s] : model_) {
    auto info = m_->GetSession(id);
    if (!info.ok()) return "model session missing: " + id;
    auto toks = *m_->Tokens(id);
    if (std::vector<TokenId>(toks.begin(), toks.end()) != s.tokens) return "tokens differ for " + id;
    const SessionState want = s.swapped ? SessionState::kSwapped
                              : s.computed < static_cast<int64_t>(s.tokens.size()) ? SessionState::kRunning
                                                                                    : SessionState::kIdle;
    if (info->state != want || info->num_computed != s.computed || info->pinned != s.pinned) {
      return absl::StrCat("session ", id, " is ", SessionStateName(info->state), " computed ",
                          info->num_computed, ", model says ", SessionStateName(want), " computed ",
                          s.computed);
    }
    const int want_device = s.swapped ? 0 : Blocks(s.tokens.size());
    const int want_host = s.swapped && !s.recompute ? Blocks(s.tokens.size()) : 0;
    if (info->device_blocks != want_device || info->host_blocks != want_host ||
        info->shared_blocks > info->device_blocks) {
      return absl::StrCat("session ", id, " block counts ", info->device_blocks, "/",
                          info->host_blocks, ", model says ", want_device, "/", want_host);
    }
    if (s.swapped) continue;
    auto table = *m_->BlockTable(id);
    auto h = PrefixHashes(s.tokens);
    for (int64_t p = 0; p < s.computed; ++p) {
      if (device_kv_[table[p / bs] * bs + p % bs] != h[p]) {
        return absl::StrCat("session ", id, " reads wrong K/V at position ", p, " (block ",
                            table[p / bs], ")");
      }
    }
  }
  if (m_->Stats().num_sessions != static_cast<int64_t>(model_.size())) return "session count differs";
  return "";
}

}  // namespace radixserve::cache::testing
