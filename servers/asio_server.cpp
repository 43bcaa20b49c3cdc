#include "servers/asio_server.hpp"

#include <signal.h>

#include <boost/asio.hpp>
#include <chrono>
#include <memory>

#include "common/byte_queue.hpp"

namespace muxbench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// The errno behind an Asio error (0 for Asio's own errors, such as eof).
int errno_of(const error_code& error) {
  return error.category() == asio::error::get_system_category() ? error.value() : 0;
}

class AsioConnection : public std::enable_shared_from_this<AsioConnection> {
 public:
  AsioConnection(tcp::socket socket, ServerContext& context)
      : socket_(std::move(socket)),
        config_(context.config),
        counters_(context.counters),
        // Uninitialised on purpose: an idle connection's buffer pages are never touched.
        read_buffer_(std::make_unique_for_overwrite<char[]>(context.config.read_size)) {
    ++counters_.open_connections;
  }

  ~AsioConnection() {
    --counters_.open_connections;
    counters_.pending_bytes -= owed();
  }

  void start() { read_more(); }

 private:
  // Bytes being written plus bytes waiting: the backpressure rule applies to both together.
  std::size_t owed() const { return writing_.size() + pending_.size(); }

  void read_more() {
    if (closed_ || reading_ || peer_closed_) return;
    // Paused, it owes bytes, so a write is in flight: its completion comes back here.
    if (const ReadGate gate = read_gate(owed(), config_, counters_); gate != ReadGate::kOpen) {
      if (!paused_) count_pause(gate, counters_);
      paused_ = true;
      return;
    }
    paused_ = false;
    reading_ = true;
    socket_.async_read_some(asio::buffer(read_buffer_.get(), config_.read_size),
                            [self = shared_from_this()](const error_code& error, std::size_t n) {
                              self->on_read(error, n);
                            });
  }

  void on_read(const error_code& error, std::size_t length) {
    reading_ = false;
    ++counters_.events;
    if (closed_) return;
    if (error == asio::error::eof) {
      peer_closed_ = true;
      if (owed() == 0) return close(counters_.closes_eof);
      ++counters_.half_closes;
      return;
    }
    if (error) return close(closes_after_error(counters_, errno_of(error)));
    counters_.bytes_in += length;
    pending_.append(read_buffer_.get(), length);
    counters_.pending_bytes += length;
    counters_.note_pending(owed());
    write_more();
    read_more();
  }

  void write_more() {
    if (closed_ || write_in_flight_ || pending_.empty()) return;
    writing_.swap(pending_);  // new reads append to pending_ while writing_'s bytes are in flight
    write_in_flight_ = true;
    const auto bytes = writing_.front();
    asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                      [self = shared_from_this()](const error_code& error, std::size_t n) {
                        self->on_written(error, n);
                      });
  }

  void on_written(const error_code& error, std::size_t length) {
    write_in_flight_ = false;
    ++counters_.events;
    counters_.bytes_out += length;
    counters_.pending_bytes -= length;
    writing_.consume(length);
    if (closed_) return;
    if (error) return close(closes_after_error(counters_, errno_of(error)));
    if (peer_closed_ && owed() == 0) return close(counters_.closes_eof);
    write_more();
    read_more();
  }

  void close(std::uint64_t& reason) {
    closed_ = true;  // handlers cancelled by the close below must not count it again
    ++reason;
    error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  const ServerConfig& config_;
  ServerCounters& counters_;
  std::unique_ptr<char[]> read_buffer_;
  ByteQueue pending_;
  ByteQueue writing_;
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool peer_closed_ = false;
  bool paused_ = false;
  bool closed_ = false;
};

class AsioEchoServer {
 public:
  explicit AsioEchoServer(ServerContext& context)
      : ctx_(context),
        acceptor_(io_, tcp::v4(), context.listener.release()),
        signals_(io_, SIGUSR1, SIGINT, SIGTERM),
        backoff_(io_) {}

  void run() {
    wait_for_signal();
    accept_next();
    ctx_.announce();
    io_.run();
  }

 private:
  void accept_next() {
    acceptor_.async_accept([this](const error_code& error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      ++ctx_.counters.events;
      if (!error) {
        ++ctx_.counters.accepts;
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<AsioConnection>(std::move(socket), ctx_)->start();
        return accept_next();
      }
      // As the other backends react, but for the fd limit (see on_fd_limit).
      switch (classify_accept_error(errno_of(error))) {
        case AcceptOutcome::kFdLimit:
          return on_fd_limit();
        case AcceptOutcome::kBackOff:
          ++ctx_.counters.accept_errors;
          return back_off();  // not in a tight loop
        case AcceptOutcome::kFatal:
          fail_on_listener(errno_of(error));
        case AcceptOutcome::kTransient:
        case AcceptOutcome::kDrained:  // not seen: Asio waits for readiness on EAGAIN
        case AcceptOutcome::kAccepted:
          ++ctx_.counters.accept_errors;
          return accept_next();  // that one connection failed; the next may be fine
      }
    });
  }

  // At the fd limit accept() fails with EMFILE even when nothing is pending (the kernel takes a
  // descriptor before it looks at the backlog), and async_accept tries accept() at once: so drop
  // what is pending, then wait until the listener is readable again before accepting.
  void on_fd_limit() {
    ++ctx_.counters.fd_limit_hits;
    const auto dropped = ctx_.reserve.drop_pending(acceptor_.native_handle());
    if (!dropped) return back_off();
    ctx_.counters.refused_fd_limit += dropped->count;
    if (!dropped->drained) return asio::post(io_, [this] { accept_next(); });
    acceptor_.async_wait(tcp::acceptor::wait_read, [this](const error_code& error) {
      if (!error) accept_next();
    });
  }

  void back_off() {
    backoff_.expires_after(std::chrono::milliseconds(100));
    backoff_.async_wait([this](const error_code& error) {
      if (!error) accept_next();
    });
  }

  void wait_for_signal() {
    signals_.async_wait([this](const error_code& error, int signal_number) {
      if (error) return;
      if (ctx_.on_signal(signal_number)) return io_.stop();
      wait_for_signal();
    });
  }

  ServerContext& ctx_;
  asio::io_context io_{1};  // one thread: lets Asio skip its internal locking
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer backoff_;
};

}  // namespace

void run_asio_server(ServerContext& context) {
  context.wait_calls_observable = false;
  AsioEchoServer server(context);
  server.run();
  context.publish("exit");
}

}  // namespace muxbench
