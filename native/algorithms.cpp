#include "algorithms.h"

namespace dx7 {
namespace {

// Written from the table in §3: each algorithm as "a>b" edges (OPa modulates OPb), carriers,
// feedback operator (0 = loop). Decoded into bit masks once at start-up.
struct Spec {
  const char* edges;
  const char* carriers;
  int fb;        // feedback operator number 1..6, or 0 for a loop
  int loop_from; // loop source operator number (algorithms 4 and 6)
};

constexpr Spec kSpecs[32] = {
    {"65 54 43 21", "13", 6, 0},        // 1
    {"65 54 43 21", "13", 2, 0},        // 2
    {"65 54 32 21", "14", 6, 0},        // 3
    {"65 54 32 21", "14", 0, 4},        // 4: loop OP4 -> OP6
    {"65 43 21", "135", 6, 0},          // 5
    {"65 43 21", "135", 0, 5},          // 6: loop OP5 -> OP6
    {"65 53 43 21", "13", 6, 0},        // 7
    {"65 53 43 21", "13", 4, 0},        // 8
    {"65 53 43 21", "13", 2, 0},        // 9
    {"32 21 64 54", "14", 3, 0},        // 10
    {"32 21 64 54", "14", 6, 0},        // 11
    {"21 63 53 43", "13", 2, 0},        // 12
    {"21 63 53 43", "13", 6, 0},        // 13
    {"21 64 54 43", "13", 6, 0},        // 14
    {"21 64 54 43", "13", 2, 0},        // 15
    {"65 43 51 31 21", "1", 6, 0},      // 16
    {"65 43 51 31 21", "1", 2, 0},      // 17
    {"65 54 41 31 21", "1", 3, 0},      // 18
    {"32 21 64 65", "145", 6, 0},       // 19
    {"31 32 64 54", "124", 3, 0},       // 20
    {"31 32 64 65", "1245", 3, 0},      // 21
    {"21 63 64 65", "1345", 6, 0},      // 22
    {"32 64 65", "1245", 6, 0},         // 23
    {"63 64 65", "12345", 6, 0},        // 24
    {"64 65", "12345", 6, 0},           // 25
    {"32 64 54", "124", 6, 0},          // 26
    {"32 64 54", "124", 3, 0},          // 27
    {"21 54 43", "136", 5, 0},          // 28
    {"43 65", "1235", 6, 0},            // 29
    {"54 43", "1236", 5, 0},            // 30
    {"65", "12345", 6, 0},              // 31
    {"", "123456", 6, 0},               // 32
};

struct Table {
  Algorithm alg[32];
  Table() {
    for (int a = 0; a < 32; ++a) {
      Algorithm& g = alg[a];
      for (auto& m : g.mods) m = 0;
      for (auto& t : g.targets) t = 0;
      g.carriers = 0;
      for (const char* p = kSpecs[a].edges; *p; ++p) {
        if (*p == ' ') continue;
        int from = p[0] - '1', to = p[1] - '1';
        g.mods[to] |= (uint8_t)(1 << from);
        g.targets[from] |= (uint8_t)(1 << to);
        ++p;
      }
      for (const char* p = kSpecs[a].carriers; *p; ++p) g.carriers |= (uint8_t)(1 << (*p - '1'));
      g.fb_op = (int8_t)(kSpecs[a].fb - 1);
      g.loop_from = (int8_t)(kSpecs[a].loop_from - 1);
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

const Algorithm& algorithm(int index) { return table().alg[index & 31]; }

}  // namespace dx7
