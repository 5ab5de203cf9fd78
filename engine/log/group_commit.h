// group_commit: the leader/follower queue both logs write through (private to engine/*_log.cc).
//
// Appends queue up; whichever waiting thread finds no leader becomes the leader, takes the
// queue (up to a byte budget, never splitting a unit: the requests of one append_group) and
// commits it as one group while the others wait or queue behind it; then one of them leads the
// next group. A `Pending` has `request` (a pointer to an append_request), `done` and `unit`; the
// commit function sets each one's outcome.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace sazesh {

template <class Pending>
class group_commit {
 public:
  // Queues `mine` (one unit) and returns once a leader, maybe this thread, committed it.
  // size(request) is a request's share of the budget; commit(group) writes a group.
  template <class Size, class Commit>
  void run(std::vector<Pending>& mine, std::size_t max_group_bytes, Size size, Commit commit) {
    std::unique_lock lock(mutex_);
    const std::uint64_t unit = ++units_;
    for (Pending& p : mine) {
      p.unit = unit;
      queue_.push_back(&p);
    }
    for (;;) {
      cv_.wait(lock, [&] { return mine.back().done || !leader_active_; });
      if (mine.back().done) return;
      // No leader: this thread leads. Its own unit may fall outside the budget of the group it
      // takes; it then loops and is committed by a later group.
      leader_active_ = true;
      std::vector<Pending*> group = take(max_group_bytes, size);
      lock.unlock();
      commit(group);
      groups_.fetch_add(1, std::memory_order_relaxed);
      lock.lock();
      for (Pending* p : group) p->done = true;
      leader_active_ = false;
      // One condition variable for followers and would-be leaders alike: the finished ones
      // return, and one of the rest becomes the next leader.
      cv_.notify_all();
    }
  }

  // Groups committed so far.
  std::uint64_t groups() const { return groups_.load(std::memory_order_relaxed); }

 private:
  // Called with mutex_ held. One unit is always taken, however big.
  template <class Size>
  std::vector<Pending*> take(std::size_t max_group_bytes, Size size) {
    std::vector<Pending*> group;
    std::size_t bytes = 0;
    while (!queue_.empty()) {
      const std::size_t s = size(*queue_.front()->request);
      if (!group.empty() && bytes + s > max_group_bytes && queue_.front()->unit != group.back()->unit) break;
      bytes += s;
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    return group;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  bool leader_active_ = false;
  std::uint64_t units_ = 0;
  std::atomic<std::uint64_t> groups_{0};
};

}  // namespace sazesh
