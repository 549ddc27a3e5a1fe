// A small QuickFIX acceptor that executes orders: the counterparty of fixengine's
// interoperability tests and of the latency benchmark.
//
// Usage:
//   qf_executor --settings acceptor.cfg --record exec.jsonl [--book exec.book] [--ack-only]
//               [--single-fill] [--no-log]
//
// Theory of operation
// -------------------
// One acceptor session (FIX.4.2, FIX.4.4 or FIXT.1.1 with DefaultApplVerID
// FIX.5.0SP2, from the settings file). For each request it answers:
//
//   NewOrderSingle(D)       ExecutionReport New; then a partial fill of 40% of the
//                           quantity; a market order (OrdType 1) is then filled in
//                           full, a limit order rests with the rest open.
//                           (--ack-only: the New report only. --single-fill: a
//                           market order is filled in one report, no partial fill
//                           first - the latency benchmark's ack + fill.)
//   OrderCancelRequest(F)   ExecutionReport Canceled of the open order, else an
//                           OrderCancelReject (CxlRejReason 1 unknown order, 0 too late).
//   OrderCancelReplaceRequest(G)
//                           ExecutionReport Replaced with the new quantity and price,
//                           else an OrderCancelReject (CxlRejResponseTo 2).
//   OrderStatusRequest(H)   ExecutionReport Order Status (ExecType I; FIX.4.2:
//                           ExecTransType 3), OrdStatus 8 for an unknown order.
//   anything else           BusinessMessageReject (QuickFIX's UnsupportedMessageType).
//
// ExecType follows the version: 1/2 (partial fill / fill) and ExecTransType(20)=0 in
// FIX.4.2, F (trade) from FIX.4.4 on.
//
// The order book survives a restart: every change appends a line to the --book
// file ("O orderid clordid symbol side qty cum price ordtype status execs") and
// every handled request's ClOrdID a line "R clordid"; the file is read back at
// start. A request whose ClOrdID was already handled (a PossDupFlag=Y resend of
// something this executor saw) is recorded as "dup" and not executed again.
//
// SIGTERM or SIGINT: log out, stop, exit 0.

#include "common.h"

#include <quickfix/ThreadedSocketAcceptor.h>

#include <fstream>
#include <memory>
#include <set>

namespace {

using interop::Json;

struct Order {
  std::string order_id, cl_ord_id, symbol, side, ord_type, status;
  long long qty = 0, cum = 0, execs = 0;
  std::string price;  // as received ("" for a market order)
};

class Book {
 public:
  explicit Book(const std::string& path) : path_(path) {
    if (path_.empty()) return;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string kind;
      words >> kind;
      if (kind == "R") {
        std::string id;
        words >> id;
        handled_.insert(id);
      } else if (kind == "O") {
        Order o;
        words >> o.order_id >> o.cl_ord_id >> o.symbol >> o.side >> o.qty >> o.cum >> o.price >>
            o.ord_type >> o.status >> o.execs;
        if (o.price == "-") o.price.clear();
        if (!words.fail()) {
          orders_[o.order_id] = o;
          by_cl_ord_id_[o.cl_ord_id] = o.order_id;
        }
      }
    }
    out_.open(path_, std::ios::app);
  }
  bool handled(const std::string& cl_ord_id) const { return handled_.count(cl_ord_id) != 0; }
  void mark_handled(const std::string& cl_ord_id) {
    handled_.insert(cl_ord_id);
    append("R " + cl_ord_id);
  }
  Order* find(const std::string& cl_ord_id) {
    auto it = by_cl_ord_id_.find(cl_ord_id);
    return it == by_cl_ord_id_.end() ? nullptr : &orders_[it->second];
  }
  Order& add(Order o) {
    o.order_id = "O" + std::to_string(orders_.size() + 1);
    orders_[o.order_id] = o;
    return orders_[o.order_id];
  }
  void save(const Order& o) {
    by_cl_ord_id_[o.cl_ord_id] = o.order_id;
    std::ostringstream line;
    line << "O " << o.order_id << ' ' << o.cl_ord_id << ' ' << o.symbol << ' ' << o.side << ' '
         << o.qty << ' ' << o.cum << ' ' << (o.price.empty() ? "-" : o.price) << ' '
         << o.ord_type << ' ' << o.status << ' ' << o.execs;
    append(line.str());
  }

 private:
  void append(const std::string& line) {
    if (!out_.is_open()) return;
    out_ << line << '\n';
    out_.flush();
  }
  std::string path_;
  std::ofstream out_;
  std::set<std::string> handled_;
  std::map<std::string, Order> orders_;
  std::map<std::string, std::string> by_cl_ord_id_;
};

class Executor : public FIX::Application {
 public:
  Executor(const FIX::SessionSettings& settings, interop::Recorder& rec, Book& book,
           bool ack_only)
      : settings_(settings), rec_(rec), book_(book), ack_only_(ack_only) {}
  bool single_fill_ = false;

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override {
    FIX::Session* s = FIX::Session::lookupSession(id);
    rec_.write("logon", Json()
                            .num("next_sender", s ? s->getExpectedSenderNum() : 0)
                            .num("next_target", s ? s->getExpectedTargetNum() : 0));
  }
  void onLogout(const FIX::SessionID&) override { rec_.write("logout", Json()); }
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& msg, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    if (rec_.enabled()) rec_.write("admin", interop::admin_fields(msg));
  }
  void fromApp(const FIX::Message& msg, const FIX::SessionID& id) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    if (rec_.enabled()) rec_.write("recv", interop::app_fields(msg));
    std::lock_guard<std::mutex> lock(mutex_);
    std::string type = interop::msg_type(msg);
    if (type != "D" && type != "F" && type != "G" && type != "H")
      throw FIX::UnsupportedMessageType();
    fix42_ = interop::app_version(settings_, id) == "FIX.4.2";
    if (type == "H") {  // a status request may be repeated: never a duplicate
      status(msg, id);
      return;
    }
    std::string cl_ord_id = msg.getField(FIX::FIELD::ClOrdID);
    if (book_.handled(cl_ord_id)) {
      rec_.write("dup", Json().str("clordid", cl_ord_id).flag("possdup", interop::poss_dup(msg)));
      return;
    }
    book_.mark_handled(cl_ord_id);
    if (type == "D") new_order(msg, id);
    else if (type == "F") cancel(msg, id);
    else replace(msg, id);
  }

 private:
  void new_order(const FIX::Message& msg, const FIX::SessionID& id) {
    Order o;
    o.cl_ord_id = msg.getField(FIX::FIELD::ClOrdID);
    o.symbol = interop::field_or(msg, FIX::FIELD::Symbol, "?");
    o.side = msg.getField(FIX::FIELD::Side);
    o.qty = std::atoll(interop::field_or(msg, FIX::FIELD::OrderQty, "0").c_str());
    o.ord_type = msg.getField(FIX::FIELD::OrdType);
    o.price = interop::field_or(msg, FIX::FIELD::Price);
    o.status = "0";
    Order& order = book_.add(o);
    report(id, order, "0", 0, "");
    if (!ack_only_ && order.qty > 0) {
      long long part = order.qty * 2 / 5;
      if (part > 0 && !(single_fill_ && order.ord_type == "1")) fill(id, order, part);
      if (order.ord_type == "1") fill(id, order, order.qty - order.cum);
    }
    book_.save(order);
  }

  void fill(const FIX::SessionID& id, Order& order, long long qty) {
    order.cum += qty;
    bool done = order.cum >= order.qty;
    order.status = done ? "2" : "1";
    std::string exec_type = fix42_ ? (done ? "2" : "1") : "F";
    report(id, order, exec_type, qty, "");
  }

  void cancel(const FIX::Message& msg, const FIX::SessionID& id) {
    std::string orig = interop::field_or(msg, FIX::FIELD::OrigClOrdID);
    Order* order = book_.find(orig);
    if (!order || order->status == "2" || order->status == "4") {
      cancel_reject(msg, id, order, "1");
      return;
    }
    order->cl_ord_id = msg.getField(FIX::FIELD::ClOrdID);
    order->status = "4";
    report(id, *order, "4", 0, orig);
    book_.save(*order);
  }

  void replace(const FIX::Message& msg, const FIX::SessionID& id) {
    std::string orig = interop::field_or(msg, FIX::FIELD::OrigClOrdID);
    Order* order = book_.find(orig);
    long long qty = std::atoll(interop::field_or(msg, FIX::FIELD::OrderQty, "0").c_str());
    if (!order || order->status == "2" || order->status == "4" || qty <= order->cum) {
      cancel_reject(msg, id, order, "2");
      return;
    }
    order->cl_ord_id = msg.getField(FIX::FIELD::ClOrdID);
    order->qty = qty;
    order->ord_type = msg.getField(FIX::FIELD::OrdType);
    order->price = interop::field_or(msg, FIX::FIELD::Price);
    order->status = order->cum > 0 ? "1" : "0";
    report(id, *order, "5", 0, orig);
    book_.save(*order);
  }

  // OrderStatusRequest: ExecType I (Order Status) from FIX.4.3 on; in FIX.4.2
  // ExecTransType 3 (Status) with the ExecType matching the order's status.
  void status(const FIX::Message& msg, const FIX::SessionID& id) {
    Order* order = book_.find(msg.getField(FIX::FIELD::ClOrdID));
    Order unknown;
    if (!order) {
      unknown.order_id = "NONE";
      unknown.cl_ord_id = msg.getField(FIX::FIELD::ClOrdID);
      unknown.symbol = interop::field_or(msg, FIX::FIELD::Symbol, "?");
      unknown.side = msg.getField(FIX::FIELD::Side);
      unknown.ord_type = "2";
      unknown.status = "8";
      order = &unknown;
    }
    std::string exec_type = fix42_ ? order->status : "I";
    report(id, *order, exec_type, 0, "", /*status=*/true);
    if (order != &unknown) book_.save(*order);
  }

  void report(const FIX::SessionID& id, Order& order, const std::string& exec_type,
              long long last_qty, const std::string& orig, bool status = false) {
    FIX::Message er;
    er.getHeader().setField(FIX::FIELD::MsgType, "8");
    er.setField(FIX::FIELD::OrderID, order.order_id);
    er.setField(FIX::FIELD::ExecID, order.order_id + "." + std::to_string(++order.execs));
    if (fix42_) er.setField(FIX::FIELD::ExecTransType, status ? "3" : "0");
    er.setField(FIX::FIELD::ExecType, exec_type);
    er.setField(FIX::FIELD::OrdStatus, order.status);
    er.setField(FIX::FIELD::ClOrdID, order.cl_ord_id);
    if (!orig.empty()) er.setField(FIX::FIELD::OrigClOrdID, orig);
    er.setField(FIX::FIELD::Symbol, order.symbol);
    er.setField(FIX::FIELD::Side, order.side);
    er.setField(FIX::FIELD::OrderQty, std::to_string(order.qty));
    er.setField(FIX::FIELD::OrdType, order.ord_type);
    if (!order.price.empty()) er.setField(FIX::FIELD::Price, order.price);
    std::string px = order.price.empty() ? "10" : order.price;
    if (last_qty > 0) {
      er.setField(FIX::FIELD::LastQty, std::to_string(last_qty));  // LastShares in FIX.4.2
      er.setField(FIX::FIELD::LastPx, px);
    }
    bool done = order.status == "4" || order.status == "2" || order.status == "8";
    long long leaves = done ? 0 : order.qty - order.cum;
    er.setField(FIX::FIELD::LeavesQty, std::to_string(leaves));
    er.setField(FIX::FIELD::CumQty, std::to_string(order.cum));
    er.setField(FIX::FIELD::AvgPx, order.cum > 0 ? px : "0");
    er.setField(FIX::FIELD::TransactTime, interop::utc_timestamp());
    FIX::Session::sendToTarget(er, id);
  }

  void cancel_reject(const FIX::Message& msg, const FIX::SessionID& id, const Order* order,
                     const std::string& response_to) {
    FIX::Message rej;
    rej.getHeader().setField(FIX::FIELD::MsgType, "9");
    rej.setField(FIX::FIELD::OrderID, order ? order->order_id : "NONE");
    rej.setField(FIX::FIELD::ClOrdID, msg.getField(FIX::FIELD::ClOrdID));
    rej.setField(FIX::FIELD::OrigClOrdID, interop::field_or(msg, FIX::FIELD::OrigClOrdID, "NONE"));
    rej.setField(FIX::FIELD::OrdStatus, order ? order->status : "8");
    rej.setField(FIX::FIELD::CxlRejResponseTo, response_to);
    rej.setField(FIX::FIELD::CxlRejReason, order ? "0" : "1");  // too late / unknown order
    rej.setField(FIX::FIELD::Text, order ? "order is done" : "unknown order");
    FIX::Session::sendToTarget(rej, id);
  }

  const FIX::SessionSettings& settings_;
  interop::Recorder& rec_;
  Book& book_;
  bool ack_only_;
  bool fix42_ = false;
  std::mutex mutex_;
};

}  // namespace

int main(int argc, char** argv) {
  interop::Args args(argc, argv);
  args.check({"settings", "record", "book", "ack-only", "single-fill", "no-log"});
  if (!args.has("settings")) interop::Args::usage_error("--settings is required");
  sigset_t signals = interop::block_control_signals();
  try {
    FIX::SessionSettings settings(args.get("settings"));
    FIX::SessionID id = interop::only_session(settings);
    interop::Recorder rec(args.get("record"));
    Book book(args.get("book"));
    Executor app(settings, rec, book, args.has("ack-only"));
    app.single_fill_ = args.has("single-fill");
    FIX::FileStoreFactory stores(settings);
    FIX::FileLogFactory logs(settings);
    // --no-log: no message log (QuickFIX's FileLog writes and flushes a line per message)
    std::unique_ptr<FIX::ThreadedSocketAcceptor> owner(
        args.has("no-log") ? new FIX::ThreadedSocketAcceptor(app, stores, settings)
                           : new FIX::ThreadedSocketAcceptor(app, stores, settings, logs));
    FIX::ThreadedSocketAcceptor& acceptor = *owner;
    acceptor.start();
    FIX::Session* session = FIX::Session::lookupSession(id);
    rec.write("start", Json()
                           .num("pid", getpid())
                           .str("role", "acceptor")
                           .num("next_sender", session ? session->getExpectedSenderNum() : 0)
                           .num("next_target", session ? session->getExpectedTargetNum() : 0));
    for (;;) {
      int sig = interop::wait_signal(signals, 3600.0);
      if (sig == SIGTERM || sig == SIGINT) break;
    }
    rec.write("stopping", Json());
    acceptor.stop();
    rec.write("stopped", Json());
  } catch (const std::exception& exc) {
    std::fprintf(stderr, "error: %s\n", exc.what());
    return 1;
  }
  return 0;
}
