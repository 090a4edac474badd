// A pool of reader connections, shared by the SQL backends: a lease borrows an idle connection
// (or opens one) and gives it back when it ends; at most `max_idle` wait idle, and one that
// `reusable` turns down (broken, left in a transaction) is closed instead.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "util/result.h"

namespace bg::store {

template <typename Conn>
class ConnectionPool {
 public:
  using Open = std::function<Result<std::unique_ptr<Conn>>()>;
  using Reusable = std::function<bool(Conn&)>;

  ConnectionPool(Open open, size_t max_idle, Reusable reusable = {})
      : open_(std::move(open)), max_idle_(max_idle), reusable_(std::move(reusable)) {}

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->Return(std::move(conn_));
    }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  Result<Lease> Get() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(conn));
      }
    }
    BG_ASSIGN_OR_RETURN(auto conn, open_());
    return Lease(this, std::move(conn));
  }

 private:
  void Return(std::unique_ptr<Conn> conn) {
    if (reusable_ && !reusable_(*conn)) return;
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
  }

  const Open open_;
  const size_t max_idle_;
  const Reusable reusable_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
};

}  // namespace bg::store
