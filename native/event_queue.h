// Fixed-capacity queue of timed events (no allocation after construction). Events are kept in
// time order, ties in arrival order. On overflow the new event is dropped and counted (`dropped`);
// sysex payloads live in a fixed arena that is recycled whenever the queue drains.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace dx7 {

struct Event {
  enum Type : uint8_t { kNoteOn, kNoteOff, kControl, kBend, kPressure, kSysex, kActiveSensing };
  uint64_t time;
  Type type;
  int32_t a, b;          // note/velocity, cc/value, bend value, pressure
  uint32_t data, size;   // sysex payload in the arena
};

class EventQueue {
 public:
  static constexpr size_t kCapacity = 4096;
  static constexpr size_t kArena = 65536;

  EventQueue() : events_(kCapacity), arena_(kArena) {}

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  const Event& front() const { return events_[head_]; }
  uint64_t dropped() const { return dropped_; }

  void pop() {
    head_ = (head_ + 1) % kCapacity;
    if (--count_ == 0) {
      head_ = 0;
      arena_used_ = 0;
    }
  }
  void clear() {
    head_ = count_ = 0;
    arena_used_ = 0;
  }

  bool push(const Event& e, const uint8_t* payload = nullptr, size_t n = 0) {
    if (count_ == kCapacity || (payload && arena_used_ + n > kArena)) {
      ++dropped_;
      return false;
    }
    Event ev = e;
    if (payload) {
      std::memcpy(arena_.data() + arena_used_, payload, n);
      ev.data = (uint32_t)arena_used_;
      ev.size = (uint32_t)n;
      arena_used_ += n;
    }
    // Insert keeping time order; usually the event is the latest and this loop ends at once.
    size_t pos = count_;
    while (pos > 0 && events_[(head_ + pos - 1) % kCapacity].time > ev.time) {
      events_[(head_ + pos) % kCapacity] = events_[(head_ + pos - 1) % kCapacity];
      --pos;
    }
    events_[(head_ + pos) % kCapacity] = ev;
    ++count_;
    return true;
  }
  const uint8_t* payload(const Event& e) const { return arena_.data() + e.data; }

 private:
  std::vector<Event> events_;
  std::vector<uint8_t> arena_;
  size_t head_ = 0, count_ = 0, arena_used_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace dx7
