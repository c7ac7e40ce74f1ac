// Slow and idle clients against the real gateway over TLS: each limit of the
// connection guard fires (whole-head deadline, minimum body rate, per-peer
// cap), and hundreds of slow, silent and idle connections from a few loopback
// addresses do not keep a normal client from getting answers within a second.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace ilpgw {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

long long msSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

SSL_CTX* clientContext() {
  static SSL_CTX* ctx = [] {
    std::signal(SIGPIPE, SIG_IGN);  // writes to connections the server closed must fail, not kill the test
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);  // the peers here are attackers, not verifiers
    return c;
  }();
  return ctx;
}

// A non-blocking TCP connection from `source` (any 127.x.y.z) to the gateway.
int startConnect(const std::string& source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local));
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote));
  return fd;
}

// One TLS connection driven step by step, for the limit checks.
class RawTls {
 public:
  RawTls(const std::string& source, int port) : fd_(startConnect(source, port)) {
    ssl_ = SSL_new(clientContext());
    SSL_set_fd(ssl_, fd_);
    SSL_set_connect_state(ssl_);
  }
  ~RawTls() {
    SSL_free(ssl_);
    ::close(fd_);
  }

  // True once the handshake is done; false when the server closed first.
  bool handshake(milliseconds timeout = milliseconds(5000)) {
    auto start = Clock::now();
    for (;;) {
      ERR_clear_error();
      int rc = SSL_connect(ssl_);
      if (rc == 1) return true;
      int err = SSL_get_error(ssl_, rc);
      short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0 || msSince(start) > timeout.count()) return false;
      pollfd p{fd_, events, 0};
      ::poll(&p, 1, 50);
    }
  }

  bool send(const std::string& bytes) {
    size_t off = 0;
    auto start = Clock::now();
    while (off < bytes.size()) {
      ERR_clear_error();
      int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if ((err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) || msSince(start) > 5000) return false;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 50);
    }
    return true;
  }

  // Reads what arrives within `wait`; sets closed when the server ended the
  // connection (close_notify, EOF or reset).
  std::string receive(milliseconds wait, bool& closed) {
    std::string got;
    closed = false;
    auto start = Clock::now();
    while (msSince(start) < wait.count()) {
      char buf[4096];
      ERR_clear_error();
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        closed = true;
        return got;
      }
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 20);
    }
    return got;
  }

 private:
  int fd_;
  SSL* ssl_ = nullptr;
};

// Hundreds of misbehaving TLS connections in one thread. Each kind reconnects
// a second after the server closes it, so the pressure lasts.
class Swarm {
 public:
  enum class Kind { kTrickleHead, kSilent, kIdleAfterOne, kSlowBody };

  explicit Swarm(int port) : port_(port) {}
  ~Swarm() { stop(); }

  void add(Kind kind, const std::string& source, int count) {
    for (int i = 0; i < count; ++i) {
      Conn c;
      c.kind = kind;
      c.source = source;
      conns_.push_back(std::move(c));
    }
  }
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Connections with a completed handshake right now: each holds a worker.
  int open() const { return open_.load(); }
  int peakOpen() const { return peak_open_.load(); }
  int closedByServer() const { return closed_by_server_.load(); }
  int answered408() const { return answered_408_.load(); }

 private:
  enum class State { kIdle, kConnecting, kHandshaking, kOpen };
  struct Conn {
    Kind kind = Kind::kSilent;
    std::string source;
    State state = State::kIdle;
    int fd = -1;
    SSL* ssl = nullptr;
    Clock::time_point next = Clock::now();
    size_t sent = 0;
    std::string received;
  };

  static constexpr const char* kTrickle = "GET /health HTTP/1.1\r\nHost: gw\r\nX-Slow: ";
  static constexpr const char* kIdleRequest = "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n";
  static constexpr const char* kSlowHead =
      "POST /ingest/epuskesmas-json HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000000\r\n\r\n";

  void drop(Conn& c, bool by_server) {
    if (c.state == State::kOpen) --open_;
    if (by_server) ++closed_by_server_;
    if (c.received.find(" 408 ") != std::string::npos) ++answered_408_;
    if (c.ssl != nullptr) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
    c.ssl = nullptr;
    c.fd = -1;
    c.state = State::kIdle;
    c.sent = 0;
    c.received.clear();
    c.next = Clock::now() + milliseconds(1000);
  }

  bool write(Conn& c, const std::string& bytes) {
    ERR_clear_error();
    int n = SSL_write(c.ssl, bytes.data(), static_cast<int>(bytes.size()));
    if (n > 0) return true;
    int err = SSL_get_error(c.ssl, n);
    return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ;
  }

  void opened(Conn& c) {
    c.state = State::kOpen;
    peak_open_ = std::max(peak_open_.load(), ++open_);
    c.next = Clock::now();
    if (c.kind == Kind::kIdleAfterOne && !write(c, kIdleRequest)) drop(c, true);
    if (c.kind == Kind::kSlowBody && !write(c, kSlowHead)) drop(c, true);
  }

  void step(Conn& c, short revents) {
    auto now = Clock::now();
    switch (c.state) {
      case State::kIdle:
        if (now < c.next) return;
        c.fd = startConnect(c.source, port_);
        c.state = State::kConnecting;
        return;
      case State::kConnecting: {
        if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) return;
        int error = 0;
        socklen_t len = sizeof(error);
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) return drop(c, false);
        c.ssl = SSL_new(clientContext());
        SSL_set_fd(c.ssl, c.fd);
        SSL_set_connect_state(c.ssl);
        c.state = State::kHandshaking;
        [[fallthrough]];
      }
      case State::kHandshaking: {
        ERR_clear_error();
        int rc = SSL_connect(c.ssl);
        if (rc == 1) return opened(c);
        int err = SSL_get_error(c.ssl, rc);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) drop(c, true);
        return;
      }
      case State::kOpen: {
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
          for (;;) {
            char buf[4096];
            ERR_clear_error();
            int n = SSL_read(c.ssl, buf, sizeof(buf));
            if (n > 0) {
              if (c.received.size() < 512) c.received.append(buf, static_cast<size_t>(n));
              continue;
            }
            int err = SSL_get_error(c.ssl, n);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return drop(c, true);
            break;
          }
        }
        if (now < c.next) return;
        if (c.kind == Kind::kTrickleHead) {
          std::string text = kTrickle;
          std::string byte(1, c.sent < text.size() ? text[c.sent] : 'a');
          ++c.sent;
          if (!write(c, byte)) return drop(c, true);
          c.next = now + milliseconds(1000);
        } else if (c.kind == Kind::kSlowBody) {
          if (!write(c, "{\"pasien\": ")) return drop(c, true);  // ~11 bytes a second
          c.next = now + milliseconds(1000);
        } else {
          c.next = now + milliseconds(1000);
        }
        return;
      }
    }
  }

  void run() {
    std::vector<pollfd> fds;
    while (!stop_) {
      fds.clear();
      for (const Conn& c : conns_) {
        short events = c.state == State::kConnecting ? POLLOUT : c.state == State::kIdle ? 0 : POLLIN;
        fds.push_back(pollfd{c.fd, events, 0});
      }
      ::poll(fds.data(), fds.size(), 10);
      for (size_t i = 0; i < conns_.size(); ++i) step(conns_[i], fds[i].revents);
    }
    for (Conn& c : conns_) {
      if (c.state != State::kIdle) drop(c, false);
    }
  }

  const int port_;
  std::vector<Conn> conns_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::atomic<int> peak_open_{0};
  std::atomic<int> closed_by_server_{0};
  std::atomic<int> answered_408_{0};
};

testing::GatewayOptions withServer(const std::string& server_config) {
  testing::GatewayOptions options;
  options.server_config = server_config;
  return options;
}

TEST(SlowClientsTest, HeadDeadlineClosesTricklingClient) {
  // Each byte comes well within the 10 s read timeout; only the whole-head
  // deadline can end this.
  testing::GatewayProcess gw(withServer(R"("header_timeout_ms": 1000)"));
  RawTls conn("127.0.0.2", gw.port());
  auto start = Clock::now();
  ASSERT_TRUE(conn.handshake());
  std::string head = "GET /health HTTP/1.1\r\nHost: gw\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  bool closed = false;
  std::string got;
  for (char byte : head) {
    if (!conn.send(std::string(1, byte))) {
      closed = true;
      break;
    }
    got += conn.receive(milliseconds(200), closed);
    if (closed) break;
  }
  long long lasted = msSince(start);
  EXPECT_TRUE(closed) << "still open after " << lasted << " ms";
  EXPECT_GE(lasted, 900);
  EXPECT_LE(lasted, 2500);
  EXPECT_EQ(got, "") << "no request, so no answer";
  // A client that sends its head at once is unaffected.
  auto res = gw.client()->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(SlowClientsTest, PlainHttpHasTheSameHeadDeadline) {
  testing::GatewayOptions options = withServer(R"("header_timeout_ms": 1000)");
  options.plain_http = true;
  testing::GatewayProcess gw(options);
  int fd = startConnect("127.0.0.2", gw.port());
  pollfd connected{fd, POLLOUT, 0};
  ASSERT_EQ(::poll(&connected, 1, 2000), 1);
  auto start = Clock::now();
  bool closed = false;
  std::string got;
  std::string head = "GET /health HTTP/1.1\r\nHost: gw\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  for (size_t i = 0; i < head.size() && !closed; ++i) {
    if (::send(fd, &head[i], 1, MSG_NOSIGNAL) != 1) break;
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, 200) == 1) {
      char buf[512];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) closed = true;
      else got.append(buf, static_cast<size_t>(n));
    }
  }
  long long lasted = msSince(start);
  ::close(fd);
  EXPECT_TRUE(closed) << "still open after " << lasted << " ms";
  EXPECT_LE(lasted, 2500);
  EXPECT_EQ(got, "");
  auto res = gw.client()->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(SlowClientsTest, SlowBodyGets408AndIsClosed) {
  testing::GatewayProcess gw(withServer(R"("min_body_bytes_per_s": 1000, "body_grace_ms": 500)"));
  RawTls conn("127.0.0.2", gw.port());
  ASSERT_TRUE(conn.handshake());
  ASSERT_TRUE(conn.send("POST /ingest/epuskesmas-json HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100000\r\n\r\n"));
  auto start = Clock::now();
  bool closed = false;
  std::string got;
  while (!closed && msSince(start) < 5000) {
    if (!conn.send("{\"id_kun")) break;  // 8 bytes per 100 ms: 80 B/s, far below 1000 B/s
    got += conn.receive(milliseconds(100), closed);
  }
  got += conn.receive(milliseconds(500), closed);
  long long lasted = msSince(start);
  EXPECT_TRUE(closed);
  EXPECT_LT(lasted, 3000);
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_NE(got.find("\"code\":\"timeout\""), std::string::npos) << got;
}

TEST(SlowClientsTest, RefusalBeforeTheBodyIsReadStillReachesTheClient) {
  // Refused before routing (no token), so the body is never read. The server
  // answers 401, closes, and drains what the client still sends; closing
  // with the body unread would reset the connection, and a reset makes the
  // client's kernel drop the answer it has not read yet.
  testing::GatewayOptions options;
  options.auth = true;
  testing::GatewayProcess gw(options);
  RawTls conn("127.0.0.2", gw.port());
  ASSERT_TRUE(conn.handshake());
  const std::string body(256 * 1024, 'x');
  ASSERT_TRUE(conn.send("POST /fhir/Patient HTTP/1.1\r\nHost: gw\r\nContent-Type: application/fhir+json\r\n"
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  bool closed = false;
  std::string got = conn.receive(milliseconds(500), closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 401", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  // The body the server did not want is taken and discarded, not parsed as
  // a next request, and not answered with a reset.
  EXPECT_TRUE(conn.send(body));
  got += conn.receive(milliseconds(3000), closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got.find("HTTP/1.1 400"), std::string::npos) << got;
}

TEST(SlowClientsTest, FastLargeBodyIsNotCut) {
  // The same strict rate, a body sent at full speed: stored.
  testing::GatewayProcess gw(withServer(R"("min_body_bytes_per_s": 100000, "body_grace_ms": 200)"));
  std::string visit = testing::readFile(testing::sourceDir() + "/docs/examples/epuskesmas-visit.json");
  auto res = gw.client()->Post("/ingest/epuskesmas-json", visit, "application/json");
  ASSERT_TRUE(res);
  EXPECT_LT(res->status, 300) << res->body;
}

TEST(SlowClientsTest, PerPeerCapRefusesOneMore) {
  testing::GatewayProcess gw(withServer(R"("max_connections_per_peer": 4)"));
  std::vector<std::unique_ptr<RawTls>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawTls>("127.0.0.3", gw.port()));
    ASSERT_TRUE(held.back()->handshake()) << "connection " << i + 1 << " of 4";
  }
  RawTls fifth("127.0.0.3", gw.port());
  EXPECT_FALSE(fifth.handshake(milliseconds(2000))) << "the 5th connection from one address must be refused";
  RawTls other("127.0.0.4", gw.port());
  EXPECT_TRUE(other.handshake()) << "another address is not affected";
  held.pop_back();  // closing one makes room again
  std::this_thread::sleep_for(milliseconds(200));
  RawTls again("127.0.0.3", gw.port());
  EXPECT_TRUE(again.handshake());
  ASSERT_TRUE(again.send("GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"));
  bool closed = false;
  std::string got = again.receive(milliseconds(1000), closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
}

TEST(SlowClientsTest, IdleKeepAliveIsReclaimedForWaitingClient) {
  // Four workers, all held by idle keep-alive connections: a new client still
  // gets its answer at once, because an idle one is closed for it.
  testing::GatewayProcess gw(withServer(R"("threads": 4, "keep_alive_timeout_s": 30)"));
  std::vector<std::unique_ptr<RawTls>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawTls>("127.0.0.5", gw.port()));
    ASSERT_TRUE(idle.back()->handshake());
    ASSERT_TRUE(idle.back()->send("GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"));
    bool closed = false;
    ASSERT_EQ(idle.back()->receive(milliseconds(300), closed).rfind("HTTP/1.1 200", 0), 0u);
  }
  auto start = Clock::now();
  auto res = gw.client()->Get("/health");
  long long took = msSince(start);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(took, 1000);
  int reclaimed = 0;
  for (auto& conn : idle) {
    bool closed = false;
    conn->receive(milliseconds(50), closed);
    reclaimed += closed ? 1 : 0;
  }
  EXPECT_GE(reclaimed, 1);
}

TEST(SlowClientsTest, NormalClientAnsweredUnderSlowAndIdleFlood) {
  // The example configuration's 64 workers and default deadlines: only the
  // guard's reclaiming keeps workers available while the flood lasts.
  testing::GatewayOptions options = withServer(R"("threads": 64)");
  options.auth = true;
  testing::GatewayProcess gw(options);
  std::string token = gw.token("clinic", "test-puskesmas");
  std::string visit = testing::readFile(testing::sourceDir() + "/docs/examples/epuskesmas-visit.json");

  Swarm swarm(gw.port());
  swarm.add(Swarm::Kind::kTrickleHead, "127.0.0.2", 300);
  for (const char* source : {"127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}) {
    swarm.add(Swarm::Kind::kSilent, source, 50);
  }
  for (const char* source : {"127.0.0.7", "127.0.0.8", "127.0.0.9", "127.0.0.10"}) {
    swarm.add(Swarm::Kind::kIdleAfterOne, source, 25);
  }
  swarm.add(Swarm::Kind::kSlowBody, "127.0.0.11", 10);
  swarm.start();
  auto flood_start = Clock::now();
  while (swarm.open() < 64 && msSince(flood_start) < 10000) std::this_thread::sleep_for(milliseconds(50));
  ASSERT_GE(swarm.open(), 64) << "the flood must hold every worker before the client measures";
  std::this_thread::sleep_for(milliseconds(1000));

  std::vector<long long> latencies;
  for (int i = 0; i < 20; ++i) {
    auto client = gw.client(token);
    client->set_read_timeout(5);
    auto start = Clock::now();
    httplib::Result res = i == 10   ? client->Post("/ingest/epuskesmas-json", visit, "application/json")
                          : i % 2 == 0 ? client->Get("/fhir/metadata")
                                       : client->Get("/health");
    long long took = msSince(start);
    latencies.push_back(took);
    ASSERT_TRUE(res) << "request " << i << ": " << httplib::to_string(res.error());
    EXPECT_LT(res->status, 300) << "request " << i << ": " << res->body;
    EXPECT_LT(took, 1000) << "request " << i;
    std::this_thread::sleep_for(milliseconds(200));
  }
  int open_at_end = swarm.open();
  swarm.stop();
  std::sort(latencies.begin(), latencies.end());
  std::printf("normal client under flood: p50 %lld ms, p99 %lld ms, max %lld ms; flood held %d connections "
              "(peak %d), server closed %d of them\n",
              latencies[latencies.size() / 2], latencies[latencies.size() * 99 / 100], latencies.back(), open_at_end,
              swarm.peakOpen(), swarm.closedByServer());
  EXPECT_GT(swarm.closedByServer(), 0);
}

}  // namespace
}  // namespace ilpgw
