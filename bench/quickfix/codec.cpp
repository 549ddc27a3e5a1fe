// QuickFIX C++ parse and serialize timings: the "quickfix" reference rows of
// `fixengine bench codec`.
//
// Usage:
//   qf_codec --seconds S --runs R [--dictionary FIX44.xml] < frames
//
// Theory of operation
// -------------------
// stdin holds one line per message: its name, a space, then its wire frame with SOH
// written as '|'. For each message the program times, in batches of about 2 ms
// (the same scheme as the Python rows):
//
//   encode    build a FIX::Message field by field from the frame's (tag, value)
//             pairs - header fields into the header, the rest into the body, values
//             as strings - and serialize it with toString(), which computes
//             BodyLength and CheckSum (QuickFIX orders the fields its own way: the
//             result is checked to hold the same fields, length and checksum);
//   decode    FIX::Message::setString(frame) on a reused message: framing, the
//             checksum and every field parsed into the message's maps (QuickFIX
//             decodes eagerly, so this already reads every value);
//   validate  (with --dictionary) decode plus DataDictionary::validate, and encode
//             followed by a parse and validation of the frame it made.
//
// Each line of output is one JSON object: message, op, validate, ns_per_msg (the
// median of the runs), p50_batch_ns, p99_batch_ns, batch, runs, bytes.

#include <quickfix/DataDictionary.h>
#include <quickfix/Message.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double now_ns() {
  return std::chrono::duration<double, std::nano>(Clock::now().time_since_epoch()).count();
}

struct Timing {
  double ns_per_msg, p50, p99;
  long batch;
};

Timing measure(const std::function<void()>& fn, double seconds, int runs) {
  long n = 1;
  double took = 0;
  for (;;) {
    double t0 = now_ns();
    for (long i = 0; i < n; ++i) fn();
    took = now_ns() - t0;
    if (took > 1e6 || n >= (1L << 20)) break;
    n *= 2;
  }
  double per_call = std::max(took / n, 1.0);
  double run_ns = seconds / runs * 1e9;
  long batch = std::max(1L, std::min(static_cast<long>(2e6 / per_call),
                                     std::max(1L, static_cast<long>(run_ns / per_call / 5))));
  std::vector<double> per_run, batches;
  for (int r = 0; r < runs; ++r) {
    double total = 0;
    long count = 0;
    while (total < run_ns || count == 0) {
      double t0 = now_ns();
      for (long i = 0; i < batch; ++i) fn();
      double t = now_ns() - t0;
      total += t;
      count += batch;
      batches.push_back(t / batch);
    }
    per_run.push_back(total / count);
  }
  std::sort(per_run.begin(), per_run.end());
  std::sort(batches.begin(), batches.end());
  double median = per_run.size() % 2 ? per_run[per_run.size() / 2]
                                     : (per_run[per_run.size() / 2 - 1] +
                                        per_run[per_run.size() / 2]) / 2;
  size_t i99 = std::min(batches.size() - 1, static_cast<size_t>(batches.size() * 0.99));
  return {median, batches[batches.size() / 2], batches[i99], batch};
}

void report(const std::string& name, const char* op, bool validate, const Timing& t, int runs,
            size_t bytes) {
  std::printf(
      "{\"message\": \"%s\", \"op\": \"%s\", \"validate\": %s, \"ns_per_msg\": %.1f, "
      "\"p50_batch_ns\": %.1f, \"p99_batch_ns\": %.1f, \"batch\": %ld, \"runs\": %d, "
      "\"bytes\": %zu}\n",
      name.c_str(), op, validate ? "true" : "false", t.ns_per_msg, t.p50, t.p99, t.batch, runs,
      bytes);
  std::fflush(stdout);
}

// (tag, value) pairs of a frame, without 8, 9 and 10 (the serializer writes those).
std::vector<std::pair<int, std::string>> fields_of(const std::string& frame) {
  std::vector<std::pair<int, std::string>> out;
  size_t pos = 0;
  while (pos < frame.size()) {
    size_t eq = frame.find('=', pos);
    size_t end = frame.find('\x01', pos);
    if (eq == std::string::npos || end == std::string::npos) break;
    int tag = std::atoi(frame.substr(pos, eq - pos).c_str());
    if (tag != 8 && tag != 9 && tag != 10) out.emplace_back(tag, frame.substr(eq + 1, end - eq - 1));
    pos = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  int runs = 5;
  std::string dictionary;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (key == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (key == "--dictionary") dictionary = argv[i + 1];
    else {
      std::fprintf(stderr, "error: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  try {
    std::unique_ptr<FIX::DataDictionary> dd;
    if (!dictionary.empty()) dd.reset(new FIX::DataDictionary(dictionary));
    const std::set<int> header_tags = {8, 9, 35, 34, 49, 52, 56, 43, 97, 122, 50, 57, 142, 143};
    std::string line;
    while (std::getline(std::cin, line)) {
      size_t space = line.find(' ');
      if (space == std::string::npos) continue;
      std::string name = line.substr(0, space);
      std::string frame = line.substr(space + 1);
      std::replace(frame.begin(), frame.end(), '|', '\x01');
      auto fields = fields_of(frame);
      std::string begin = "FIX.4.4";
      auto build = [&]() {
        FIX::Message msg;
        FIX::Header& header = msg.getHeader();
        header.setField(FIX::FIELD::BeginString, begin);
        for (const auto& f : fields) {
          if (header_tags.count(f.first)) header.setField(f.first, f.second);
          else msg.setField(f.first, f.second);
        }
        return msg.toString();
      };
      // QuickFIX writes the fields in its own order (by tag number without a
      // dictionary): the same fields, the same length and the same checksum is enough
      std::string check = build();
      auto mine = fields_of(check), theirs = fields;
      std::sort(mine.begin(), mine.end());
      std::sort(theirs.begin(), theirs.end());
      if (mine != theirs || check.size() != frame.size() ||
          check.substr(check.size() - 4) != frame.substr(frame.size() - 4)) {
        std::fprintf(stderr, "error: %s serializes differently:\n%s\n%s\n", name.c_str(),
                     check.c_str(), frame.c_str());
        return 1;
      }
      volatile size_t sink = 0;
      report(name, "encode", false, measure([&] { sink = sink + build().size(); }, seconds, runs),
             runs, frame.size());
      FIX::Message reused;
      report(name, "decode", false,
             measure([&] { reused.setString(frame, false); }, seconds, runs), runs, frame.size());
      if (dd) {
        report(name, "decode", true, measure([&] {
                 reused.setString(frame, true, dd.get());
                 dd->validate(reused);
               }, seconds, runs), runs, frame.size());
        report(name, "encode", true, measure([&] {
                 std::string out = build();
                 reused.setString(out, true, dd.get());
                 dd->validate(reused);
               }, seconds, runs), runs, frame.size());
      }
    }
  } catch (const std::exception& exc) {
    std::fprintf(stderr, "error: %s\n", exc.what());
    return 1;
  }
  return 0;
}
