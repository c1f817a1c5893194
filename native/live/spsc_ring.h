// A fixed-capacity, lock-free single-producer / single-consumer ring buffer.
//
// Why: the audio callback must never block on a Python thread. The producer side (MIDI poller,
// instrument) and the consumer side (the PortAudio callback) only share two atomic indices; the
// storage is allocated once, in the constructor, and never again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace dx7live {

// One cache line between the indices, so producer and consumer do not false-share.
constexpr size_t kCacheLine = 64;

inline size_t roundUpPow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

template <typename T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity)
      : size_(roundUpPow2(capacity < 2 ? 2 : capacity)), mask_(size_ - 1), slots_(new T[size_]()) {}

  size_t capacity() const { return size_; }

  // Producer: copy one item in. False when full (the item is dropped; the caller counts it).
  bool push(const T& item) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) >= size_) return false;
    slots_[head & mask_] = item;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Producer: room left (exact for the producer, which alone makes it shrink).
  size_t freeSpace() const {
    return size_ - static_cast<size_t>(head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire));
  }

  // Producer: copy up to n items in; returns how many fitted.
  size_t pushMany(const T* items, size_t n) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const size_t space = size_ - static_cast<size_t>(head - tail_.load(std::memory_order_acquire));
    if (n > space) n = space;
    for (size_t i = 0; i < n; ++i) slots_[(head + i) & mask_] = items[i];
    head_.store(head + n, std::memory_order_release);
    return n;
  }

  // Consumer: the oldest item, or nullptr when empty. Valid until pop().
  const T* peek() const {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[tail & mask_];
  }

  void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: copy up to n items out; returns how many.
  size_t popMany(T* out, size_t n) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const size_t avail = static_cast<size_t>(head_.load(std::memory_order_acquire) - tail);
    if (n > avail) n = avail;
    for (size_t i = 0; i < n; ++i) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  size_t sizeApprox() const {
    return static_cast<size_t>(head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire));
  }

 private:
  const size_t size_;
  const size_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(kCacheLine) std::atomic<uint64_t> head_{0};  // written by the producer only
  alignas(kCacheLine) std::atomic<uint64_t> tail_{0};  // written by the consumer only
};

}  // namespace dx7live
