// Shared pieces of the QuickFIX interoperability programs (executor.cpp, initiator.cpp).
//
// Theory of operation
// -------------------
// Both programs are configured by an ordinary QuickFIX settings file (one session)
// plus command-line flags, and report what they observe in a *record file*: one
// JSON object per line, each written with a single write(2) on an O_APPEND
// descriptor, so a line whose write returned survives a kill -9. The Python tests
// read the record files (and QuickFIX's own message logs) to check the exchange.
//
// Record lines (field "ev"): start, logon, logout, recv (an application message:
// type, seq, possdup, the order fields and the raw text), admin (a session
// message: type, seq and the fields that matter - never a password), intent and
// sent (initiator), dup (executor: a request it had already handled), stopped.
//
// Signals are taken synchronously: the main thread blocks SIGTERM, SIGINT and
// SIGUSR1/SIGUSR2 before QuickFIX starts its threads and waits for them with
// sigtimedwait, so no handler ever runs inside QuickFIX code.

#ifndef FIXENGINE_BENCH_QUICKFIX_COMMON_H
#define FIXENGINE_BENCH_QUICKFIX_COMMON_H

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace interop {

const char SOH = '\x01';

// -- JSON record file --------------------------------------------------------------------------

inline std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// One JSON object under construction: add("key", value) keeps insertion order.
class Json {
 public:
  Json& str(const std::string& key, const std::string& value) {
    items_.push_back(json_string(key) + ":" + json_string(value));
    return *this;
  }
  Json& num(const std::string& key, long long value) {
    items_.push_back(json_string(key) + ":" + std::to_string(value));
    return *this;
  }
  Json& real(const std::string& key, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", value);
    items_.push_back(json_string(key) + ":" + buf);
    return *this;
  }
  Json& flag(const std::string& key, bool value) {
    items_.push_back(json_string(key) + ":" + (value ? "true" : "false"));
    return *this;
  }
  std::string text() const {
    std::string out = "{";
    for (size_t i = 0; i < items_.size(); ++i) out += (i ? "," : "") + items_[i];
    return out + "}";
  }

 private:
  std::vector<std::string> items_;
};

inline double wall_time() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

inline double mono_time() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

class Recorder {
 public:
  explicit Recorder(const std::string& path) {
    if (!path.empty()) fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (!path.empty() && fd_ < 0) {
      std::perror(("cannot open record file " + path).c_str());
      std::exit(2);
    }
  }
  ~Recorder() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool enabled() const { return fd_ >= 0; }
  void write(const std::string& ev, Json fields) {
    if (fd_ < 0) return;
    fields.str("ev", ev).real("t", wall_time());
    std::string line = fields.text() + "\n";
    std::lock_guard<std::mutex> lock(mutex_);
    ssize_t n = ::write(fd_, line.data(), line.size());
    (void)n;
  }

 private:
  int fd_ = -1;
  std::mutex mutex_;
};

// -- message helpers -----------------------------------------------------------------------

inline std::string field_or(const FIX::FieldMap& map, int tag, const std::string& dflt = "") {
  return map.isSetField(tag) ? map.getField(tag) : dflt;
}

inline std::string msg_type(const FIX::Message& msg) {
  return field_or(msg.getHeader(), FIX::FIELD::MsgType);
}

inline long long seq_num(const FIX::Message& msg) {
  return std::atoll(field_or(msg.getHeader(), FIX::FIELD::MsgSeqNum, "0").c_str());
}

inline bool poss_dup(const FIX::Message& msg) {
  return field_or(msg.getHeader(), FIX::FIELD::PossDupFlag) == "Y";
}

// The session fields worth recording (never Password 554 / NewPassword 925).
inline Json admin_fields(const FIX::Message& msg) {
  static const int tags[] = {7, 16, 36, 43, 45, 58, 98, 108, 112, 123, 141, 372, 373, 1137};
  Json out;
  out.str("type", msg_type(msg)).num("seq", seq_num(msg));
  for (int tag : tags) {
    const FIX::FieldMap& map = (tag == 43) ? static_cast<const FIX::FieldMap&>(msg.getHeader())
                                           : static_cast<const FIX::FieldMap&>(msg);
    if (map.isSetField(tag)) out.str(std::to_string(tag), map.getField(tag));
  }
  return out;
}

// What an application message says, for the "recv" record.
inline Json app_fields(const FIX::Message& msg) {
  static const std::pair<int, const char*> tags[] = {
      {11, "clordid"}, {41, "origclordid"}, {37, "orderid"}, {17, "execid"},
      {150, "exectype"}, {39, "ordstatus"}, {14, "cumqty"}, {151, "leavesqty"},
      {38, "qty"}, {44, "price"}, {32, "lastqty"}, {102, "cxlrejreason"}, {434, "cxlrejto"}};
  Json out;
  out.str("type", msg_type(msg)).num("seq", seq_num(msg)).flag("possdup", poss_dup(msg));
  for (const auto& item : tags)
    if (msg.isSetField(item.first)) out.str(item.second, msg.getField(item.first));
  std::string raw = msg.toString();
  out.str("raw", raw);
  return out;
}

// "20240101-12:00:00.123" (UTC, milliseconds): TransactTime(60).
inline std::string utc_timestamp() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d-%02d:%02d:%02d.%03ld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000);
  return buf;
}

// The application version a session speaks: "FIX.4.2", "FIX.4.4", "FIX.5.0SP2", ...
inline std::string app_version(const FIX::SessionSettings& settings, const FIX::SessionID& id) {
  std::string begin = id.getBeginString().getValue();
  if (begin != "FIXT.1.1") return begin;
  const FIX::Dictionary& dict = settings.get(id);
  std::string ver = dict.has("DefaultApplVerID") ? dict.getString("DefaultApplVerID") : "9";
  if (ver == "9") return "FIX.5.0SP2";
  if (ver == "8") return "FIX.5.0SP1";
  if (ver == "7") return "FIX.5.0";
  return ver;
}

// -- command line ----------------------------------------------------------------------------

class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) usage_error("unexpected argument " + key);
      key = key.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        values_[key] = argv[++i];
      } else {
        values_[key] = "";
      }
    }
  }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::string get(const std::string& key, const std::string& dflt = "") const {
    auto it = values_.find(key);
    return it == values_.end() ? dflt : it->second;
  }
  long long integer(const std::string& key, long long dflt) const {
    if (!has(key)) return dflt;
    char* end = nullptr;
    long long value = std::strtoll(get(key).c_str(), &end, 10);
    if (!end || *end) usage_error("--" + key + " needs an integer");
    return value;
  }
  double real(const std::string& key, double dflt) const {
    if (!has(key)) return dflt;
    char* end = nullptr;
    double value = std::strtod(get(key).c_str(), &end);
    if (!end || *end) usage_error("--" + key + " needs a number");
    return value;
  }
  void check(const std::vector<std::string>& known) const {
    for (const auto& kv : values_) {
      bool ok = false;
      for (const auto& k : known) ok = ok || k == kv.first;
      if (!ok) usage_error("unknown option --" + kv.first);
    }
  }
  [[noreturn]] static void usage_error(const std::string& text) {
    std::fprintf(stderr, "error: %s\n", text.c_str());
    std::exit(2);
  }

 private:
  std::map<std::string, std::string> values_;
};

// -- signals ---------------------------------------------------------------------------------

// Block the control signals in this thread (and every thread started after it).
inline sigset_t block_control_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Wait up to `seconds` for a control signal; returns it, or 0 on time-out.
inline int wait_signal(const sigset_t& set, double seconds) {
  if (seconds < 0) seconds = 0;
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(seconds);
  ts.tv_nsec = static_cast<long>((seconds - ts.tv_sec) * 1e9);
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

// The one session a settings file describes (both programs run exactly one).
inline FIX::SessionID only_session(const FIX::SessionSettings& settings) {
  std::set<FIX::SessionID> ids = settings.getSessions();
  if (ids.size() != 1) {
    std::fprintf(stderr, "error: the settings file must describe one session, found %zu\n",
                 ids.size());
    std::exit(2);
  }
  return *ids.begin();
}

}  // namespace interop

#endif
