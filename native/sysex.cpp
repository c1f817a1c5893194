#include "sysex.h"

namespace dx7 {

SysexMessage parseSysex(const uint8_t* d, size_t n) {
  SysexMessage m;
  if (n < 6 || d[0] != 0xF0 || d[1] != 0x43) return m;
  const int sub = d[2] >> 4;
  m.channel = d[2] & 0x0F;
  if (sub == 0) {
    // §1.3 format 1: a TX7-style performance/function block of 94 bytes
    if (d[3] == 0x01) {
      if (n < 6 + 94) return m;
      m.kind = SysexMessage::kPerformance;
      m.voice = d + 6;
      return m;
    }
    // §1.3 single voice: F0 43 0n 00 01 1B <155> cs F7
    if (d[3] != 0x00 || n < 6 + 155 + 1 || d[4] != 0x01 || d[5] != 0x1B) return m;
    int sum = 0;
    for (int i = 0; i < 155; ++i) sum += d[6 + i];
    m.checksum_ok = (((-sum) & 0x7F) == d[6 + 155]);
    m.kind = SysexMessage::kVoiceDump;  // loaded even with a bad checksum (as the DX7 does)
    m.voice = d + 6;
    return m;
  }
  if (sub == 1) {
    // §1.6 parameter change: F0 43 1n gg pp dd F7, gg = 0ggggg pp (group in bits 2..6).
    const int gg = d[3], group = (gg >> 2) & 0x1F;
    const int param = ((gg & 3) << 7) | (d[4] & 0x7F);
    m.value = d[5] & 0x7F;
    if (group == 0 && param <= 155) {
      m.kind = SysexMessage::kVoiceParam;
      m.param = param;
    } else if (group == 2 && param >= 64 && param <= 77) {
      m.kind = SysexMessage::kFunctionParam;
      m.param = param;
    }
    return m;
  }
  return m;  // dump requests (s = 2) are ignored by the DX7 v1.8 (§1.1)
}

}  // namespace dx7
