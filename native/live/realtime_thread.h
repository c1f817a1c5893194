// Real-time scheduling for the audio thread.
//
// A JACK server started with --no-realtime (and PortAudio on most desktops) runs its clients'
// process threads at normal priority, where any busy thread of the machine — including a
// CPU-bound Python thread of our own process — competes with them and can delay a period by
// milliseconds. Real-time audio hosts raise their callback thread to SCHED_FIFO; we do the same
// the first time a callback runs on a thread, when the system allows it (root or an rtprio
// limit), and quietly keep normal scheduling otherwise. DX7LIVE_NO_REALTIME=1 disables it.
#pragma once
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>

namespace dx7live {

class RealtimeThread {
 public:
  // -1 not tried yet, 0 normal scheduling kept, 1 SCHED_FIFO
  int state() const { return state_.load(std::memory_order_relaxed); }

  // Call at the top of every audio callback. After the first call on a thread it costs one
  // pthread_self() and one relaxed load: no system call, no allocation.
  // min_priority > 0: raise a thread the host made real-time to at least this priority.
  void promote(int min_priority = 0) {
    const pthread_t self = pthread_self();
    if (tried_.load(std::memory_order_relaxed) && pthread_equal(thread_.load(std::memory_order_relaxed), self)) return;
    thread_.store(self, std::memory_order_relaxed);
    tried_.store(true, std::memory_order_relaxed);
    const char* off = std::getenv("DX7LIVE_NO_REALTIME");
    if (off != nullptr && off[0] != '\0' && off[0] != '0') {
      state_.store(0, std::memory_order_relaxed);
      return;
    }
    int policy = 0;
    sched_param param{};
    if (pthread_getschedparam(self, &policy, &param) == 0 && (policy == SCHED_FIFO || policy == SCHED_RR)) {
      // the host already made it real-time; an instrument should not wait behind other clients
      if (param.sched_priority < min_priority) {
        param.sched_priority = min_priority;
        pthread_setschedparam(self, policy, &param);  // if refused, the host's priority stays
      }
      state_.store(1, std::memory_order_relaxed);
      return;
    }
    param.sched_priority = min_priority > 0 ? min_priority : kPriority;
    state_.store(pthread_setschedparam(self, SCHED_FIFO, &param) == 0 ? 1 : 0, std::memory_order_relaxed);
  }

 private:
  // low in the real-time range: above every normal thread, below a real-time JACK server (~70+)
  static constexpr int kPriority = 20;
  std::atomic<bool> tried_{false};
  std::atomic<pthread_t> thread_{};
  std::atomic<int> state_{-1};
};

}  // namespace dx7live
