#include "servers/uring_server.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "common/byte_queue.hpp"
#include "servers/signal_pipe.hpp"
#include "servers/uring_ring.hpp"

namespace muxbench {
namespace {

enum class Op : std::uint64_t { kAccept = 1, kListenerPoll, kBackoff, kSignals, kRecv, kSend };

// user_data: operation (8 bits) | connection generation (24 bits) | descriptor (32 bits).
std::uint64_t tag(Op op, std::uint32_t generation = 0, int fd = 0) {
  return (static_cast<std::uint64_t>(op) << 56) |
         (static_cast<std::uint64_t>(generation & 0xffffff) << 32) | static_cast<std::uint32_t>(fd);
}
Op op_of(std::uint64_t data) { return static_cast<Op>(data >> 56); }
std::uint32_t generation_of(std::uint64_t data) {
  return static_cast<std::uint32_t>((data >> 32) & 0xffffff);
}
int fd_of(std::uint64_t data) { return static_cast<int>(data & 0xffffffffu); }

// Receive buffers the kernel picks from when a recv completes (IOSQE_BUFFER_SELECT).
class ProvidedBuffers {
 public:
  // A power of two. Each connection has at most one recv in flight and its buffer goes back as
  // soon as the bytes are copied, so only connections whose data arrives in the same batch
  // compete; the rest retry after it (ENOBUFS). The ring hands buffers out in turn, so every one
  // of them gets touched: keep the pool small.
  static constexpr unsigned kCount = 64;
  static constexpr int kGroup = 0;

  // Zero-filled, so the pool's pages are resident from the start: it is fixed memory the server
  // owns under any load (the ring hands its buffers out in turn, touching them all), and a
  // measurement of memory growth then sees only what connections buffer.
  ProvidedBuffers(io_uring* ring, std::size_t size)
      : ring_(ring), size_(size), storage_(std::make_unique<char[]>(kCount * size)) {
    const std::size_t bytes = kCount * sizeof(io_uring_buf);
    void* memory =
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) throw UringUnavailable("cannot map the provided-buffer ring");
    buffers_ = static_cast<io_uring_buf_ring*>(memory);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uint64_t>(memory);
    registration.ring_entries = kCount;
    registration.bgid = kGroup;
    if (const int result = io_uring_register_buf_ring(ring, &registration, 0); result < 0) {
      ::munmap(memory, bytes);
      throw UringUnavailable(fmt::format(
          "io_uring provided-buffer rings are not available here: {}", std::strerror(-result)));
    }
    io_uring_buf_ring_init(buffers_);
    for (unsigned id = 0; id < kCount; ++id) give_back(static_cast<std::uint16_t>(id));
  }
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
  ~ProvidedBuffers() {
    io_uring_unregister_buf_ring(ring_, kGroup);
    ::munmap(buffers_, kCount * sizeof(io_uring_buf));
  }

  const char* data(std::uint16_t id) const { return storage_.get() + id * size_; }
  std::size_t size() const { return size_; }

  void give_back(std::uint16_t id) {
    io_uring_buf_ring_add(buffers_, storage_.get() + id * size_, static_cast<unsigned>(size_), id,
                          io_uring_buf_ring_mask(kCount), 0);
    io_uring_buf_ring_advance(buffers_, 1);
  }

 private:
  io_uring* ring_;
  std::size_t size_;
  std::unique_ptr<char[]> storage_;
  io_uring_buf_ring* buffers_ = nullptr;
};

class UringEchoServer {
 public:
  explicit UringEchoServer(ServerContext& context)
      : ctx_(context),
        c_(context.counters),
        listen_fd_(context.listener.fd()),
        ring_(4096),
        buffers_(ring_.get(), context.config.read_size) {}

  // Sends may still be in flight from connections' queues: the ring goes first.
  ~UringEchoServer() { ring_.close(); }

  void run() {
    arm_accept();
    arm_signals();
    ctx_.announce();
    while (!stopping_) {
      ring_.submit_and_wait(-1);
      ++c_.wait_calls;
      c_.events += ring_.drain([this](const io_uring_cqe& cqe) { dispatch(cqe); });
      retry_starved();
      c_.submissions = ring_.submitted();
    }
  }

 private:
  struct Connection {
    std::uint32_t generation = 0;
    bool open = false;
    bool closing = false;    // decided to close; waits for its requests to finish
    bool receiving = false;  // a recv is in flight
    bool sending = false;    // a send is in flight (of writing's bytes)
    bool peer_closed = false;
    bool paused = false;
    ByteQueue pending;  // read, not yet handed to a send
    ByteQueue writing;  // handed to the send in flight
    std::size_t owed() const { return pending.size() + writing.size(); }
  };

  void dispatch(const io_uring_cqe& cqe) {
    switch (op_of(cqe.user_data)) {
      case Op::kAccept:
        return on_accept(cqe);
      case Op::kListenerPoll:
      case Op::kBackoff:
        return arm_accept();
      case Op::kSignals:
        return on_signals(cqe);
      case Op::kRecv:
      case Op::kSend:
        break;
    }
    const int fd = fd_of(cqe.user_data);
    if (static_cast<std::size_t>(fd) >= connections_.size() ||
        connections_[fd].generation != generation_of(cqe.user_data)) {
      ++c_.stale_events;
      return;
    }
    Connection& c = connections_[fd];
    if (op_of(cqe.user_data) == Op::kRecv) {
      on_recv(fd, c, cqe);
    } else {
      on_sent(fd, c, cqe);
    }
    if (c.closing && !c.receiving && !c.sending) release(fd, c);
  }

  void arm_accept() {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(Op::kAccept));
  }

  // As the readiness loops react, but for the fd limit (see on_fd_limit) and that an error ends a
  // multishot accept, which is then armed anew.
  void on_accept(const io_uring_cqe& cqe) {
    if (cqe.res >= 0) {
      add_connection(cqe.res);
    } else {
      switch (classify_accept_error(-cqe.res)) {
        case AcceptOutcome::kFdLimit:
          return on_fd_limit();  // a multishot accept ends on an error: re-armed from there
        case AcceptOutcome::kBackOff:
          ++c_.accept_errors;
          return back_off();  // re-armed when the timeout completes
        case AcceptOutcome::kFatal:
          fail_on_listener(-cqe.res);
        case AcceptOutcome::kTransient:
        case AcceptOutcome::kDrained:  // not seen: the kernel waits for a connection instead
        case AcceptOutcome::kAccepted:
          ++c_.accept_errors;
          break;
      }
    }
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm_accept();
  }

  // accept() fails with EMFILE even on an empty backlog, so after dropping what is pending, wait
  // for the listener to be readable again instead of re-arming the accept at once.
  void on_fd_limit() {
    ++c_.fd_limit_hits;
    const auto dropped = ctx_.reserve.drop_pending(listen_fd_);
    if (!dropped) return back_off();
    c_.refused_fd_limit += dropped->count;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_poll_add(sqe, listen_fd_, POLLIN);
    io_uring_sqe_set_data64(sqe, tag(Op::kListenerPoll));
  }

  void back_off() {
    static __kernel_timespec delay{0, 100'000'000};
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_timeout(sqe, &delay, 0, 0);
    io_uring_sqe_set_data64(sqe, tag(Op::kBackoff));
  }

  void add_connection(int fd) {
    ++c_.accepts;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (static_cast<std::size_t>(fd) >= connections_.size()) {
      connections_.resize(std::max<std::size_t>(fd + 1, connections_.size() * 2));
    }
    Connection& c = connections_[fd];
    const std::uint32_t generation = (c.generation + 1) & 0xffffff;  // as many bits as the tag has
    c = Connection{};
    c.generation = generation;
    c.open = true;
    ++c_.open_connections;
    receive(fd, c);
  }

  void receive(int fd, Connection& c) {
    if (c.receiving || c.peer_closed || c.closing) return;
    // Paused, it owes bytes, so a send is in flight: its completion comes back here.
    if (const ReadGate gate = read_gate(c.owed(), ctx_.config, c_); gate != ReadGate::kOpen) {
      if (!c.paused) count_pause(gate, c_);
      c.paused = true;
      return;
    }
    c.paused = false;
    c.receiving = true;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, fd, nullptr, buffers_.size(), 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = ProvidedBuffers::kGroup;
    io_uring_sqe_set_data64(sqe, tag(Op::kRecv, c.generation, fd));
  }

  void on_recv(int fd, Connection& c, const io_uring_cqe& cqe) {
    c.receiving = false;
    const bool has_buffer = cqe.flags & IORING_CQE_F_BUFFER;
    const auto id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    if (has_buffer && (c.closing || cqe.res <= 0)) buffers_.give_back(id);  // always returned
    if (c.closing) return;
    if (cqe.res == -ENOBUFS) {  // every provided buffer is in use: try again after this batch
      starved_.push_back(fd);
      return;
    }
    if (cqe.res < 0) return close(fd, c, closes_after_error(c_, -cqe.res));
    if (cqe.res == 0) {
      c.peer_closed = true;
      if (c.owed() == 0) return close(fd, c, c_.closes_eof);
      ++c_.half_closes;
      return;
    }
    const auto length = static_cast<std::size_t>(cqe.res);
    c.pending.append(buffers_.data(id), length);  // copied, so the buffer goes straight back
    buffers_.give_back(id);
    c_.bytes_in += length;
    c_.pending_bytes += length;
    c_.note_pending(c.owed());
    send(fd, c);
    receive(fd, c);
  }

  void send(int fd, Connection& c) {
    if (c.sending || c.closing) return;
    if (c.writing.empty()) {
      if (c.pending.empty()) return;
      c.writing.swap(c.pending);
    }
    c.sending = true;
    const auto bytes = c.writing.front();
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(Op::kSend, c.generation, fd));
  }

  void on_sent(int fd, Connection& c, const io_uring_cqe& cqe) {
    c.sending = false;
    if (cqe.res > 0) {  // counted even when closing: the bytes did leave
      const auto length = static_cast<std::size_t>(cqe.res);
      c.writing.consume(length);
      c_.bytes_out += length;
      c_.pending_bytes -= length;
    }
    if (c.closing) return;
    if (cqe.res < 0) return close(fd, c, closes_after_error(c_, -cqe.res));
    if (c.peer_closed && c.owed() == 0) return close(fd, c, c_.closes_eof);
    send(fd, c);
    receive(fd, c);
  }

  // receive() only queues SQEs, so starved_ does not change while it is walked.
  void retry_starved() {
    for (const int fd : starved_) {
      Connection& c = connections_[fd];
      if (c.open && !c.closing) receive(fd, c);
    }
    starved_.clear();
  }

  // Counted now; the descriptor is closed once no request of it is in flight (shutdown makes a
  // pending recv complete).
  void close(int fd, Connection& c, std::uint64_t& reason) {
    ++reason;
    c.closing = true;
    if (c.receiving || c.sending) ::shutdown(fd, SHUT_RDWR);
  }

  void release(int fd, Connection& c) {
    ::close(fd);
    c_.pending_bytes -= c.owed();
    const std::uint32_t generation = c.generation;
    c = Connection{};
    c.generation = (generation + 1) & 0xffffff;
    --c_.open_connections;
  }

  void arm_signals() {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_poll_add(sqe, signals_.read_fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, tag(Op::kSignals));
  }

  void on_signals(const io_uring_cqe&) {
    for (const int signal_number : signals_.take()) stopping_ |= ctx_.on_signal(signal_number);
    arm_signals();
  }

  ServerContext& ctx_;
  ServerCounters& c_;
  const int listen_fd_;
  UringRing ring_;
  ProvidedBuffers buffers_;
  SignalPipe signals_;
  std::vector<Connection> connections_;
  std::vector<int> starved_;
  bool stopping_ = false;
};

}  // namespace

void run_uring_server(ServerContext& context) {
  UringEchoServer server(context);
  server.run();
  context.publish("exit");
}

}  // namespace muxbench
