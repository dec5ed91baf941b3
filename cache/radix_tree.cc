#include "cache/radix_tree.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cache/internal_check.h"

namespace radixserve::cache {

RadixTree::RadixTree(int32_t block_size, BlockPool* pool, std::unique_ptr<EvictionPolicy> policy)
    : block_size_(block_size),
      pool_(pool),
      policy_(policy ? std::move(policy) : std::make_unique<LruEvictionPolicy>()),
      root_(std::make_unique<RadixNode>()) {
  CACHE_INTERNAL_CHECK(block_size_ > 0);
}

RadixTree::~RadixTree() {
  // Tear down iteratively: a long chain of nodes would otherwise recurse once per node
  // through unique_ptr destructors.
  std::vector<std::unique_ptr<RadixNode>> stack;
  for (auto& [key, child] : root_->children) stack.push_back(std::move(child));
  while (!stack.empty()) {
    std::unique_ptr<RadixNode> node = std::move(stack.back());
    stack.pop_back();
    for (auto& [key, child] : node->children) stack.push_back(std::move(child));
  }
}

int32_t RadixTree::CommonBlocks(const RadixNode& node, absl::Span<const TokenId> tokens) const {
  const int32_t limit =
      std::min<int32_t>(node.num_blocks(), static_cast<int32_t>(tokens.size()) / block_size_);
  const size_t block_bytes = sizeof(TokenId) * block_size_;
  int32_t m = 0;
  while (m < limit &&
         std::memcmp(node.tokens.data() + m * block_size_, tokens.data() + m * block_size_,
                     block_bytes) == 0) {
    ++m;
  }
  return m;
}

RadixTree::MatchResult RadixTree::Match(absl::Span<const TokenId> tokens, RadixNode* start) {
  MatchResult result;
  RadixNode* node = start ? start : root_.get();
  const size_t full = tokens.size() / block_size_;
  size_t pos = 0;  // blocks matched so far
  while (pos < full) {
    auto it = node->children.find(tokens.subspan(pos * block_size_, block_size_));
    if (it == node->children.end()) break;
    RadixNode* child = it->second.get();
    const int32_t m = CommonBlocks(*child, tokens.subspan(pos * block_size_));
    const bool partial = m < child->num_blocks();
    if (partial) child = Split(child, m);
    result.blocks.insert(result.blocks.end(), child->blocks.begin(), child->blocks.end());
    ++child->hit_count;
    Touch(child);
    node = child;
    pos += m;
    if (partial) break;
  }
  result.node = node;
  ++stats_.queries;
  stats_.queried_tokens += static_cast<int64_t>(tokens.size());
  if (pos > 0) ++stats_.hits;
  stats_.hit_tokens += static_cast<int64_t>(pos) * block_size_;
  return result;
}

int32_t RadixTree::PeekMatchBlocks(absl::Span<const TokenId> tokens) const {
  const RadixNode* node = root_.get();
  const size_t full = tokens.size() / block_size_;
  size_t pos = 0;
  while (pos < full) {
    auto it = node->children.find(tokens.subspan(pos * block_size_, block_size_));
    if (it == node->children.end()) break;
    const RadixNode* child = it->second.get();
    const int32_t m = CommonBlocks(*child, tokens.subspan(pos * block_size_));
    pos += m;
    if (m < child->num_blocks()) break;
    node = child;
  }
  return static_cast<int32_t>(pos);
}

RadixTree::InsertResult RadixTree::Insert(absl::Span<const TokenId> tokens,
                                          absl::Span<const BlockId> blocks) {
  const size_t full = tokens.size() / block_size_;
  CACHE_INTERNAL_CHECK(blocks.size() == full);
  InsertResult result;
  result.blocks.reserve(full);
  RadixNode* node = root_.get();
  size_t pos = 0;
  while (pos < full) {
    auto it = node->children.find(tokens.subspan(pos * block_size_, block_size_));
    if (it == node->children.end()) {
      auto leaf = std::make_unique<RadixNode>();
      leaf->tokens.assign(tokens.begin() + pos * block_size_, tokens.begin() + full * block_size_);
      leaf->blocks.assign(blocks.begin() + pos, blocks.end());
      leaf->parent = node;
      leaf->depth_blocks = node->depth_blocks + leaf->num_blocks();
      leaf->id = next_node_id_++;
      if (pool_) {
        for (BlockId b : leaf->blocks) pool_->IncRef(b);
      }
      const int32_t added = leaf->num_blocks();
      result.num_new_blocks = added;
      result.blocks.insert(result.blocks.end(), leaf->blocks.begin(), leaf->blocks.end());
      RadixNode* raw = leaf.get();
      if (node->is_candidate) RemoveCandidate(node);  // no longer a leaf
      node->children.emplace(std::vector<TokenId>(leaf->tokens.begin(),
                                                  leaf->tokens.begin() + block_size_),
                             std::move(leaf));
      ++stats_.num_nodes;
      stats_.cached_blocks += added;
      stats_.evictable_blocks += added;
      Touch(raw);
      MaybeAddCandidate(raw);
      node = raw;
      pos = full;
      break;
    }
    RadixNode* child = it->second.get();
    const int32_t m = CommonBlocks(*child, tokens.subspan(pos * block_size_));
    if (m < child->num_blocks()) child = Split(child, m);
    result.blocks.insert(result.blocks.end(), child->blocks.begin(), child->blocks.end());
    Touch(child);
    node = child;
    pos += m;
  }
  result.node = node;
  return result;
}

RadixNode* RadixTree::Split(RadixNode* node, int32_t num_blocks) {
  CACHE_INTERNAL_CHECK(num_blocks > 0 && num_blocks < node->num_blocks());
  auto upper = std::make_unique<RadixNode>();
  const auto cut = node->tokens.begin() + static_cast<size_t>(num_blocks) * block_size_;
  upper->tokens.assign(node->tokens.begin(), cut);
  upper->blocks.assign(node->blocks.begin(), node->blocks.begin() + num_blocks);
  node->tokens.erase(node->tokens.begin(), cut);
  node->blocks.erase(node->blocks.begin(), node->blocks.begin() + num_blocks);
  RadixNode* parent = node->parent;
  upper->parent = parent;
  upper->depth_blocks = node->depth_blocks - node->num_blocks();
  upper->lock_ref = node->lock_ref;  // every lock below passes through the upper part
  upper->last_access = node->last_access;
  upper->hit_count = node->hit_count;
  upper->id = next_node_id_++;

  auto it = parent->children.find(FirstBlock(upper->tokens));
  CACHE_INTERNAL_CHECK(it != parent->children.end() && it->second.get() == node);
  std::unique_ptr<RadixNode> lower = std::move(it->second);
  it->second = std::move(upper);
  RadixNode* up = it->second.get();
  node->parent = up;
  up->children.emplace(std::vector<TokenId>(node->tokens.begin(), node->tokens.begin() + block_size_),
                       std::move(lower));
  ++stats_.num_nodes;
  return up;
}

void RadixTree::Touch(RadixNode* node) {
  node->last_access = ++tick_;
  if (node->is_candidate) {
    RemoveCandidate(node);
    AddCandidate(node);
  }
}

void RadixTree::AddCandidate(RadixNode* node) {
  node->candidate_priority = policy_->Priority(*node);
  node->is_candidate = true;
  candidates_.insert({node->candidate_priority, node->id, node});
}

void RadixTree::RemoveCandidate(RadixNode* node) {
  candidates_.erase({node->candidate_priority, node->id, node});
  node->is_candidate = false;
}

void RadixTree::MaybeAddCandidate(RadixNode* node) {
  if (node != root_.get() && node->lock_ref == 0 && node->is_leaf() && !node->is_candidate) {
    AddCandidate(node);
  }
}

void RadixTree::Lock(RadixNode* node) {
  for (RadixNode* n = node; n != root_.get(); n = n->parent) {
    if (n->lock_ref++ == 0) {
      stats_.evictable_blocks -= n->num_blocks();
      if (n->is_candidate) RemoveCandidate(n);
    }
  }
}

void RadixTree::Unlock(RadixNode* node) {
  for (RadixNode* n = node; n != root_.get(); n = n->parent) {
    CACHE_INTERNAL_CHECK(n->lock_ref > 0);
    if (--n->lock_ref == 0) {
      stats_.evictable_blocks += n->num_blocks();
      MaybeAddCandidate(n);
    }
  }
}

RadixNode* RadixTree::AncestorAtDepth(RadixNode* node, int32_t depth_blocks) {
  CACHE_INTERNAL_CHECK(depth_blocks >= 0 && depth_blocks <= node->depth_blocks);
  while (node != root_.get() && node->depth_blocks - node->num_blocks() >= depth_blocks) {
    node = node->parent;
  }
  if (node == root_.get() || node->depth_blocks == depth_blocks) return node;
  return Split(node, depth_blocks - (node->depth_blocks - node->num_blocks()));
}

int32_t RadixTree::EvictNode(RadixNode* node, int32_t max_blocks) {
  CACHE_INTERNAL_CHECK(node->is_candidate && node->is_leaf() && node->lock_ref == 0);
  // Take at most `max_blocks` from the tail: the rest of the leaf stays cached (and a
  // candidate, at its old priority), so a short allocation costs little cache.
  const int32_t n = std::min(max_blocks, node->num_blocks());
  int32_t freed = 0;
  for (int32_t i = node->num_blocks() - n; i < node->num_blocks(); ++i) {
    if (pool_ == nullptr || pool_->DecRef(node->blocks[i])) ++freed;
  }
  stats_.cached_blocks -= n;
  stats_.evictable_blocks -= n;
  stats_.evicted_blocks += n;
  if (n < node->num_blocks()) {
    node->blocks.resize(node->num_blocks() - n);
    node->tokens.resize(node->blocks.size() * static_cast<size_t>(block_size_));
    node->depth_blocks -= n;
    return freed;
  }
  RemoveCandidate(node);
  --stats_.num_nodes;
  RadixNode* parent = node->parent;
  parent->children.erase(FirstBlock(node->tokens));  // destroys `node`
  MaybeAddCandidate(parent);
  return freed;
}

int32_t RadixTree::Evict(int32_t num_blocks) {
  int32_t freed = 0;
  while (freed < num_blocks && !candidates_.empty()) {
    freed += EvictNode(candidates_.begin()->node, num_blocks - freed);
  }
  return freed;
}

int32_t RadixTree::EvictAll() {
  int32_t freed = 0;
  while (!candidates_.empty()) {
    RadixNode* node = candidates_.begin()->node;
    freed += EvictNode(node, node->num_blocks());
  }
  return freed;
}

absl::Status RadixTree::CheckConsistency(
    const absl::flat_hash_map<const RadixNode*, int32_t>& direct_locks,
    std::vector<int32_t>* tree_refs) const {
  int64_t nodes = 0, blocks = 0, evictable = 0, candidates = 0;
  // Iterative DFS; lock sums are checked per node against its children.
  std::vector<bool> seen(tree_refs->size(), false);
  std::vector<const RadixNode*> stack = {root_.get()};
  while (!stack.empty()) {
    const RadixNode* node = stack.back();
    stack.pop_back();
    int64_t child_locks = 0;
    for (const auto& [key, child] : node->children) {
      const std::string where = absl::StrCat("radix node ", child->id, ": ");
      if (child->parent != node) return absl::InternalError(where + "wrong parent pointer");
      if (child->blocks.empty() ||
          child->tokens.size() != child->blocks.size() * static_cast<size_t>(block_size_)) {
        return absl::InternalError(where + "tokens and blocks disagree");
      }
      if (absl::Span<const TokenId>(key) != FirstBlock(child->tokens)) {
        return absl::InternalError(where + "child key is not its first block");
      }
      if (child->depth_blocks != node->depth_blocks + child->num_blocks()) {
        return absl::InternalError(where + "wrong depth");
      }
      child_locks += child->lock_ref;
      stack.push_back(child.get());
    }
    if (node == root_.get()) continue;
    const std::string where = absl::StrCat("radix node ", node->id, ": ");
    auto it = direct_locks.find(node);
    const int64_t direct = it == direct_locks.end() ? 0 : it->second;
    if (node->lock_ref != direct + child_locks) {
      return absl::InternalError(absl::StrCat(where, "lock_ref ", node->lock_ref, " but ", direct,
                                              " direct locks + ", child_locks, " below"));
    }
    const bool should_be_candidate = node->lock_ref == 0 && node->is_leaf();
    if (node->is_candidate != should_be_candidate) {
      return absl::InternalError(where + "eviction candidacy is stale");
    }
    if (node->is_candidate) {
      ++candidates;
      if (node->candidate_priority != policy_->Priority(*node) ||
          !candidates_.count({node->candidate_priority, node->id, const_cast<RadixNode*>(node)})) {
        return absl::InternalError(where + "candidate set entry is stale");
      }
    }
    ++nodes;
    blocks += node->num_blocks();
    if (node->lock_ref == 0) evictable += node->num_blocks();
    for (BlockId b : node->blocks) {
      if (b < 0 || b >= static_cast<BlockId>(tree_refs->size())) {
        return absl::InternalError(absl::StrCat(where, "block ", b, " out of range"));
      }
      if (seen[b]) return absl::InternalError(absl::StrCat(where, "block ", b, " indexed twice"));
      seen[b] = true;
      ++(*tree_refs)[b];
    }
  }
  if (root_->lock_ref != 0) return absl::InternalError("radix root has a lock count");
  if (nodes != stats_.num_nodes || blocks != stats_.cached_blocks ||
      evictable != stats_.evictable_blocks) {
    return absl::InternalError(absl::StrCat("radix stats drifted: nodes ", stats_.num_nodes, " vs ",
                                            nodes, ", cached ", stats_.cached_blocks, " vs ", blocks,
                                            ", evictable ", stats_.evictable_blocks, " vs ",
                                            evictable));
  }
  if (candidates != static_cast<int64_t>(candidates_.size())) {
    return absl::InternalError("eviction candidate set holds nodes that are not in the tree");
  }
  return absl::OkStatus();
}

}  // namespace radixserve::cache
