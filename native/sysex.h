// Decoding of the DX7 sysex messages the engine understands (§1.1, §1.3, §1.6).
#pragma once
#include <cstddef>
#include <cstdint>

namespace dx7 {

struct SysexMessage {
  enum Kind { kNone, kVoiceDump, kVoiceParam, kFunctionParam, kPerformance };
  Kind kind = kNone;
  int channel = 0;        // 0..15 from the header
  const uint8_t* voice = nullptr;  // 155 bytes for kVoiceDump, 94 bytes for kPerformance
  int param = 0, value = 0;
  bool checksum_ok = true;
};

// Parse F0 43 ... F7 (a trailing F7 is optional). Anything else (other manufacturers, bulk 32-voice
// dumps, dump requests, panel-button messages, truncated data) yields kind == kNone.
SysexMessage parseSysex(const uint8_t* data, size_t n);

}  // namespace dx7
