#pragma once
// A doubly linked list threaded through its elements (no allocation per insert): for the
// streams of a multiplexed connection, found by id through nghttp2's own stream map.
#include <cstddef>

namespace weft {

template <typename T>
struct ListHook {
  T* prev = nullptr;
  T* next = nullptr;
  bool linked = false;
};

template <typename T, ListHook<T> T::*Hook>
class IntrusiveList {
 public:
  void push(T* e) {
    ListHook<T>& h = e->*Hook;
    h.prev = nullptr;
    h.next = head_;
    if (head_) (head_->*Hook).prev = e;
    head_ = e;
    h.linked = true;
    ++size_;
  }
  void remove(T* e) {
    ListHook<T>& h = e->*Hook;
    if (!h.linked) return;
    if (h.prev)
      (h.prev->*Hook).next = h.next;
    else
      head_ = h.next;
    if (h.next) (h.next->*Hook).prev = h.prev;
    h.prev = h.next = nullptr;
    h.linked = false;
    --size_;
  }
  // Unlinks and returns the first element, or null.
  T* pop() {
    T* e = head_;
    if (e) remove(e);
    return e;
  }
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

 private:
  T* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace weft
