// A small QuickFIX initiator that trades: sends orders, cancels and replaces and
// records every report it gets. The counterparty of fixengine's interoperability
// tests, and the client of the latency benchmark.
//
// Usage:
//   qf_initiator --settings initiator.cfg --record trader.jsonl --orders N
//                [--prefix Q] [--interval S] [--no-wait]
//   qf_initiator --settings initiator.cfg --count N --window K [--prefix L<pid>]
//                [--warmup W] [--rate R] [--samples FILE] [--sync] [--no-log]
//
// Theory of operation
// -------------------
// Scripted mode (--orders N) sends a fixed plan of actions, each recorded as
// "intent" just before it is handed to QuickFIX and "sent" after. For order i
// (ClOrdID <prefix>-i, quantity 100, side alternating):
//
//   i % 4 == 1   NewOrderSingle, market      -> New, partial fill, fill
//   i % 4 == 2   NewOrderSingle, limit 10.5; OrderCancelRequest <prefix>-i-C
//                                            -> New, partial fill, Canceled
//   i % 4 == 3   NewOrderSingle, limit 10.5; OrderCancelReplaceRequest
//                <prefix>-i-R (quantity 200, limit 11.5)
//                                            -> New, partial fill, Replaced
//   i % 4 == 0   NewOrderSingle, limit 10.5; OrderCancelRequest for the unknown
//                <prefix>-i-X                -> New, partial fill, OrderCancelReject
//
// so an executor answers every order with exactly three messages. The plan goes on
// whether or not the session is logged on (QuickFIX stores what it sends while
// disconnected and the counterparty asks for it again by ResendRequest). A
// restarted program reads its record file and resumes after the last "intent".
//
// Latency mode (--count N --window K): market orders <prefix>-L-i with at most K
// awaiting their first ExecutionReport; each order->ack round trip is timed with
// the monotonic clock and a JSON summary is printed on stdout. --warmup W sends W
// orders first (not timed) and waits for their acknowledgements. --rate R offers R
// orders per second on a fixed schedule (order i is due at start + i/R) instead of
// sending as soon as the window allows; its round trip is timed from the moment it
// was due, so a late send counts against the latency (no coordinated omission).
// --samples FILE writes every timed round trip (microseconds, one per line, in
// arrival order). --sync: after the warm-up print "WARM" and wait for a line on
// stdin before the timed orders; after the summary wait for another line before
// logging out (lets a benchmark read both processes' CPU time around the timed part).
//
// SIGTERM or SIGINT: log out, stop, exit 0. SIGUSR1 pauses the plan, SIGUSR2 resumes it.

#include "common.h"

#include <quickfix/ThreadedSocketInitiator.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <fstream>

namespace {

using interop::Json;

struct Action {
  int order = 0;
  std::string kind;  // "new", "cancel", "replace"
  std::string cl_ord_id, orig;
  std::string ord_type, price, side;
  long long qty = 100;
};

std::vector<Action> make_plan(const std::string& prefix, int orders) {
  std::vector<Action> plan;
  for (int i = 1; i <= orders; ++i) {
    std::string base = prefix + "-" + std::to_string(i);
    Action nos;
    nos.order = i;
    nos.kind = "new";
    nos.cl_ord_id = base;
    nos.side = (i % 2) ? "1" : "2";
    nos.ord_type = (i % 4 == 1) ? "1" : "2";
    nos.price = (i % 4 == 1) ? "" : "10.5";
    plan.push_back(nos);
    Action next = nos;
    if (i % 4 == 2) {
      next.kind = "cancel";
      next.cl_ord_id = base + "-C";
      next.orig = base;
    } else if (i % 4 == 3) {
      next.kind = "replace";
      next.cl_ord_id = base + "-R";
      next.orig = base;
      next.qty = 200;
      next.price = "11.5";
    } else if (i % 4 == 0) {
      next.kind = "cancel";
      next.cl_ord_id = base + "-X";
      next.orig = base + "-unknown";
    } else {
      continue;
    }
    plan.push_back(next);
  }
  return plan;
}

// The last action index ("a") recorded as an intent by an earlier run (0: none).
int last_intent(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int last = 0;
  while (std::getline(in, line)) {
    if (line.find("\"ev\":\"intent\"") == std::string::npos) continue;
    size_t at = line.find("\"a\":");
    if (at != std::string::npos) last = std::max(last, std::atoi(line.c_str() + at + 4));
  }
  return last;
}

FIX::Message build(const Action& a, const std::string& version, const std::string& symbol) {
  FIX::Message msg;
  const char* type = a.kind == "new" ? "D" : a.kind == "cancel" ? "F" : "G";
  msg.getHeader().setField(FIX::FIELD::MsgType, type);
  msg.setField(FIX::FIELD::ClOrdID, a.cl_ord_id);
  if (!a.orig.empty()) msg.setField(FIX::FIELD::OrigClOrdID, a.orig);
  if (a.kind != "cancel") msg.setField(FIX::FIELD::HandlInst, "1");
  msg.setField(FIX::FIELD::Symbol, symbol);
  msg.setField(FIX::FIELD::Side, a.side);
  msg.setField(FIX::FIELD::TransactTime, interop::utc_timestamp());
  msg.setField(FIX::FIELD::OrderQty, std::to_string(a.qty));
  if (a.kind != "cancel") {
    msg.setField(FIX::FIELD::OrdType, a.ord_type);
    if (!a.price.empty()) msg.setField(FIX::FIELD::Price, a.price);
    if (version != "FIX.4.2") msg.setField(FIX::FIELD::TimeInForce, "0");
  }
  return msg;
}

class Trader : public FIX::Application {
 public:
  explicit Trader(interop::Recorder& rec) : rec_(rec) {}

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override {
    FIX::Session* s = FIX::Session::lookupSession(id);
    rec_.write("logon", Json()
                            .num("next_sender", s ? s->getExpectedSenderNum() : 0)
                            .num("next_target", s ? s->getExpectedTargetNum() : 0));
    std::lock_guard<std::mutex> lock(mutex_);
    logged_on_ = true;
    cond_.notify_all();
  }
  void onLogout(const FIX::SessionID&) override {
    rec_.write("logout", Json());
    std::lock_guard<std::mutex> lock(mutex_);
    logged_on_ = false;
  }
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& msg, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    if (rec_.enabled()) rec_.write("admin", interop::admin_fields(msg));
  }
  void fromApp(const FIX::Message& msg, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    double now = interop::mono_time();
    if (!latency_mode_) rec_.write("recv", interop::app_fields(msg));
    if (interop::msg_type(msg) != "8") return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pending_.find(interop::field_or(msg, FIX::FIELD::ClOrdID));
    if (it != pending_.end() && interop::field_or(msg, FIX::FIELD::ExecType) == "0") {
      if (timing_) samples_.push_back(now - it->second);
      pending_.erase(it);
      cond_.notify_all();
    }
  }

  bool wait_logged_on(double seconds) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cond_.wait_for(lock, std::chrono::duration<double>(seconds),
                          [this] { return logged_on_; });
  }

  // Latency mode: register an order before sending it; wait for room in the window.
  void expect_ack(const std::string& cl_ord_id, double since = 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_[cl_ord_id] = since > 0 ? since : interop::mono_time();
  }
  void set_timing(bool on) {
    std::lock_guard<std::mutex> lock(mutex_);
    timing_ = on;
  }
  bool wait_window(size_t window, double seconds) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cond_.wait_for(lock, std::chrono::duration<double>(seconds),
                          [&] { return pending_.size() < window; });
  }
  std::vector<double> samples() {
    std::lock_guard<std::mutex> lock(mutex_);
    return samples_;
  }
  size_t outstanding() {
    std::lock_guard<std::mutex> lock(mutex_);
    return pending_.size();
  }
  bool latency_mode_ = false;

 private:
  interop::Recorder& rec_;
  std::mutex mutex_;
  std::condition_variable cond_;
  bool logged_on_ = false;
  bool timing_ = true;
  std::map<std::string, double> pending_;
  std::vector<double> samples_;
};

double percentile(std::vector<double> sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

// Wait for a line on stdin (--sync); false at end of input.
bool wait_line() {
  char buf[256];
  return std::fgets(buf, sizeof buf, stdin) != nullptr;
}

void sleep_until(double when) {
  for (;;) {
    double left = when - interop::mono_time();
    if (left <= 0) return;
    if (left > 0.0002) {
      struct timespec ts;
      left -= 0.0001;
      ts.tv_sec = static_cast<time_t>(left);
      ts.tv_nsec = static_cast<long>((left - ts.tv_sec) * 1e9);
      nanosleep(&ts, nullptr);
    }
  }
}

// Send orders first..last (inclusive); false when interrupted by a signal.
bool send_orders(Trader& app, const FIX::SessionID& id, const std::string& version,
                 const std::string& prefix, const std::string& symbol, long long first,
                 long long last, size_t window, double rate, const sigset_t& signals) {
  double start = interop::mono_time();
  for (long long i = first; i <= last; ++i) {
    double due = 0;
    if (rate > 0) {
      due = start + (i - first) / rate;
      sleep_until(due);
    }
    while (!app.wait_window(window, 0.5)) {
      if (interop::wait_signal(signals, 0)) return false;
    }
    Action a;
    a.kind = "new";
    a.cl_ord_id = prefix + "-L-" + std::to_string(i);
    a.side = (i % 2) ? "1" : "2";
    a.ord_type = "1";
    FIX::Message msg = build(a, version, symbol);
    app.expect_ack(a.cl_ord_id, due);
    FIX::Session::sendToTarget(msg, id);
  }
  return true;
}

void drain(Trader& app, double seconds) {
  double deadline = interop::mono_time() + seconds;
  while (app.outstanding() && interop::mono_time() < deadline) app.wait_window(1, 0.1);
}

int run_latency(Trader& app, const FIX::SessionID& id, const std::string& version,
                const interop::Args& args, const sigset_t& signals) {
  long long count = args.integer("count", 1000);
  long long warmup = std::max(0LL, args.integer("warmup", 0));
  double rate = args.real("rate", 0);
  size_t window = static_cast<size_t>(std::max(1LL, args.integer("window", 1)));
  // ClOrdIDs unique per run: an executor ignores a ClOrdID it has already handled
  std::string prefix = args.get("prefix", "L" + std::to_string(getpid()));
  std::string symbol = args.get("symbol", "QFX");
  bool sync = args.has("sync");
  double drain_timeout = args.real("drain-timeout", 30);
  app.latency_mode_ = true;
  if (!app.wait_logged_on(args.real("logon-timeout", 10))) {
    std::fprintf(stderr, "error: not logged on\n");
    return 1;
  }
  if (warmup > 0) {
    app.set_timing(false);
    if (!send_orders(app, id, version, prefix + "W", symbol, 1, warmup, window, rate, signals))
      return 1;
    drain(app, drain_timeout);
    app.set_timing(true);
  }
  if (sync) {
    std::printf("WARM\n");
    std::fflush(stdout);
    if (!wait_line()) return 1;
  }
  double start = interop::mono_time();
  if (!send_orders(app, id, version, prefix, symbol, 1, count, window, rate, signals)) return 1;
  drain(app, drain_timeout);
  double elapsed = interop::mono_time() - start;
  std::vector<double> s = app.samples();
  if (args.has("samples")) {
    FILE* out = std::fopen(args.get("samples").c_str(), "w");
    if (out) {
      for (double v : s) std::fprintf(out, "%.3f\n", v * 1e6);
      std::fclose(out);
    }
  }
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double v : s) sum += v;
  Json out;
  out.str("engine", "quickfix")
      .str("version", version)
      .num("count", count)
      .num("warmup", warmup)
      .num("window", static_cast<long long>(window))
      .real("rate", rate)
      .num("acked", static_cast<long long>(s.size()))
      .real("seconds", elapsed)
      .real("orders_per_s", elapsed > 0 ? s.size() / elapsed : 0)
      .real("mean_us", s.empty() ? 0 : sum / s.size() * 1e6)
      .real("p50_us", percentile(s, 0.50) * 1e6)
      .real("p90_us", percentile(s, 0.90) * 1e6)
      .real("p99_us", percentile(s, 0.99) * 1e6)
      .real("max_us", s.empty() ? 0 : s.back() * 1e6);
  std::printf("%s\n", out.text().c_str());
  std::fflush(stdout);
  if (sync) wait_line();
  return s.size() == static_cast<size_t>(count) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  interop::Args args(argc, argv);
  args.check({"settings", "record", "orders", "prefix", "interval", "no-wait", "symbol", "count",
              "window", "logon-timeout", "drain-timeout", "warmup", "rate", "samples", "sync",
              "no-log"});
  if (!args.has("settings")) interop::Args::usage_error("--settings is required");
  if (args.has("window") != args.has("count"))
    interop::Args::usage_error("--count and --window go together (latency mode)");
  sigset_t signals = interop::block_control_signals();
  int code = 0;
  try {
    FIX::SessionSettings settings(args.get("settings"));
    FIX::SessionID id = interop::only_session(settings);
    std::string version = interop::app_version(settings, id);
    interop::Recorder rec(args.get("record"));
    Trader app(rec);
    FIX::FileStoreFactory stores(settings);
    FIX::FileLogFactory logs(settings);
    // --no-log: no message log (QuickFIX's FileLog writes and flushes a line per message)
    std::unique_ptr<FIX::ThreadedSocketInitiator> owner(
        args.has("no-log") ? new FIX::ThreadedSocketInitiator(app, stores, settings)
                           : new FIX::ThreadedSocketInitiator(app, stores, settings, logs));
    FIX::ThreadedSocketInitiator& initiator = *owner;
    initiator.start();
    FIX::Session* session = FIX::Session::lookupSession(id);
    rec.write("start", Json()
                           .num("pid", getpid())
                           .str("role", "initiator")
                           .num("next_sender", session ? session->getExpectedSenderNum() : 0)
                           .num("next_target", session ? session->getExpectedTargetNum() : 0));
    bool stop = false;
    if (args.has("window")) {
      code = run_latency(app, id, version, args, signals);
      stop = true;
    }
    std::vector<Action> plan =
        make_plan(args.get("prefix", "Q"), static_cast<int>(args.integer("orders", 0)));
    size_t next = static_cast<size_t>(last_intent(args.get("record")));
    double interval = args.real("interval", 0.05);
    bool sending = true;
    if (!stop && !args.has("no-wait")) {
      // the first run waits for the first Logon; later actions go out whatever the state
      while (!app.wait_logged_on(0.05)) {
        int sig = interop::wait_signal(signals, 0);
        if (sig == SIGTERM || sig == SIGINT) {
          stop = true;
          break;
        }
        if (sig == SIGUSR1) sending = false;
        if (sig == SIGUSR2) sending = true;
      }
    }
    while (!stop) {
      if (sending && next < plan.size()) {
        const Action& a = plan[next];
        ++next;
        rec.write("intent", Json()
                                .num("a", static_cast<long long>(next))
                                .num("n", a.order)
                                .str("kind", a.kind)
                                .str("clordid", a.cl_ord_id));
        FIX::Message msg = build(a, version, args.get("symbol", "QFX"));
        try {
          FIX::Session::sendToTarget(msg, id);
          rec.write("sent", Json().num("a", static_cast<long long>(next)));
        } catch (const std::exception& exc) {
          rec.write("send_error",
                    Json().num("a", static_cast<long long>(next)).str("error", exc.what()));
        }
        if (next == plan.size()) rec.write("stopped_sending", Json().num("last_a", next));
      }
      int sig = interop::wait_signal(signals, next < plan.size() && sending ? interval : 3600.0);
      if (sig == SIGTERM || sig == SIGINT) stop = true;
      if (sig == SIGUSR1) sending = false;
      if (sig == SIGUSR2) sending = true;
    }
    rec.write("stopping",
              Json()
                  .num("next_sender", session ? session->getExpectedSenderNum() : 0)
                  .num("next_target", session ? session->getExpectedTargetNum() : 0));
    initiator.stop();
    rec.write("stopped", Json());
  } catch (const std::exception& exc) {
    std::fprintf(stderr, "error: %s\n", exc.what());
    return 1;
  }
  return code;
}
