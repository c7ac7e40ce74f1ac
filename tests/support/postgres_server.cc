#include "postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace ilpgw::testing {
namespace fs = std::filesystem;
namespace {

bool hasServer(const fs::path& dir) {
  return fs::exists(dir / "initdb") && fs::exists(dir / "postgres") && fs::exists(dir / "psql");
}

// The unprivileged account the server runs as when we are root.
struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop = false;
};

Account serverAccount() {
  Account account;
  if (geteuid() != 0) return account;
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* pw = getpwnam(name)) {
      account = {pw->pw_uid, pw->pw_gid, true};
      return account;
    }
  }
  throw std::runtime_error("running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as");
}

void giveTo(const Account& account, const fs::path& path) {
  if (account.drop && chown(path.c_str(), account.uid, account.gid) != 0) {
    throw std::runtime_error("chown " + path.string() + " failed");
  }
}

// In a forked child: become the server account (and die with the parent
// when `tie_to_parent`), send output to `output`, exec argv.
[[noreturn]] void execAs(const Account& account, const std::vector<std::string>& argv, const std::string& output,
                         bool tie_to_parent, pid_t parent) {
  int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  if (account.drop) {
    if (setgroups(0, nullptr) != 0 || setgid(account.gid) != 0 || setuid(account.uid) != 0) _exit(125);
  }
  // After the credential change, which clears it.
  if (tie_to_parent) {
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(0);
  }
  setenv("LC_ALL", "C", 1);
  unsetenv("PGDATA");
  unsetenv("PGHOST");
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

// Runs argv as the server account and waits; output appended to `output`.
int runAs(const Account& account, const std::vector<std::string>& argv, const std::string& output) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) execAs(account, argv, output, false, parent);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A cluster made once per machine and copied by every test process: initdb
// takes seconds, a copy a fraction of one.
fs::path templateCluster(const Account& account, const std::string& bin) {
  fs::path root = fs::temp_directory_path() / ("ilpgw-pg-template-" + std::to_string(account.uid));
  fs::path cluster = root / "data";
  std::error_code ec;
  fs::create_directories(root, ec);
  giveTo(account, root);
  std::string lock_path = (root / "lock").string();
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + lock_path);
  try {
    if (!fs::exists(cluster / "PG_VERSION") || !fs::exists(root / "complete")) {
      fs::remove_all(cluster, ec);
      std::string log = (root / "initdb.log").string();
      int rc = runAs(account,
                     {bin + "/initdb", "-D", cluster.string(), "-U", "ilpgw", "--auth=trust", "--encoding=UTF8",
                      "--locale=C", "--no-sync", "--no-instructions"},
                     log);
      if (rc != 0) throw std::runtime_error("initdb failed (" + std::to_string(rc) + "): " + readFile(log));
      writeFile(root / "complete", "");
    }
  } catch (...) {
    close(lock);
    throw;
  }
  close(lock);
  return cluster;
}

}  // namespace

std::string postgresBinDir() {
  if (const char* env = std::getenv("ILPGW_POSTGRES_BIN"); env != nullptr && *env != '\0') {
    return hasServer(env) ? env : "";
  }
  if (hasServer("/usr/lib/postgresql/15/bin")) return "/usr/lib/postgresql/15/bin";
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (hasServer(bin) && bin.string() > best) best = bin.string();
  }
  return best;
}

PostgresServer::PostgresServer(PostgresOptions options) : options_(options) {
  std::string bin = postgresBinDir();
  if (bin.empty()) {
    throw std::runtime_error(
        "PostgreSQL server binaries not found (looked in $ILPGW_POSTGRES_BIN and /usr/lib/postgresql/*/bin): "
        "install postgresql-15 (scripts/install-deps.sh); the PostgreSQL store tests cannot run without it");
  }
  Account account = serverAccount();
  giveTo(account, dir_.path());
  fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                   fs::perms::others_read | fs::perms::others_exec);
  data_dir_ = dir_.file("data");
  socket_dir_ = dir_.path().string();
  log_path_ = dir_.file("postgres.log");
  fs::path cluster = templateCluster(account, bin);
  std::string copy_log = dir_.file("copy.log");
  if (runAs(account, {"/bin/cp", "-a", cluster.string(), data_dir_}, copy_log) != 0) {
    throw std::runtime_error("copying the template cluster failed: " + readFile(copy_log));
  }
  start();
}

PostgresServer::~PostgresServer() {
  // Immediate shutdown: the cluster is thrown away, no checkpoint needed.
  if (pid_ > 0) kill(pid_, SIGQUIT);
  stop();
}

PostgresServer& PostgresServer::shared() {
  static PostgresServer* server = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    server = new PostgresServer();
    // Stopped and removed at exit, also when tests failed.
    std::atexit([] { delete server; });
  });
  return *server;
}

void PostgresServer::start() {
  if (pid_ > 0) return;
  Account account = serverAccount();
  std::string bin = postgresBinDir();
  std::vector<std::string> argv = {bin + "/postgres",
                                   "-D", data_dir_,
                                   "-c", "listen_addresses=",
                                   "-c", "unix_socket_directories=" + socket_dir_,
                                   "-c", "port=5432",
                                   "-c", "max_connections=" + std::to_string(options_.max_connections),
                                   "-c", "shared_buffers=64MB",
                                   "-c", std::string("fsync=") + (options_.fsync ? "on" : "off"),
                                   "-c", "synchronous_commit=on"};
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) execAs(account, argv, log_path_, true, parent);
  waitReady();
}

void PostgresServer::waitReady() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("postgres exited during start-up: " + log());
    }
    std::string out = dir_.file("ready.log");
    std::error_code ec;
    fs::remove(out, ec);
    if (runAs(serverAccount(), {postgresBinDir() + "/pg_isready", "-q", "-h", socket_dir_, "-p", "5432"}, out) == 0) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("postgres did not accept connections within 60 s: " + log());
}

void PostgresServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: sessions are ended, the cluster is left consistent
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string PostgresServer::log() const { return readFile(log_path_); }

std::string PostgresServer::createDatabase() {
  std::string name = "ilpgw_" + std::to_string(getpid()) + "_" + std::to_string(++next_database_);
  sql("postgres", "CREATE DATABASE " + name);
  return name;
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://ilpgw@/" + database + "?host=" + socket_dir_ + "&port=5432";
}

std::string PostgresServer::sql(const std::string& database, const std::string& statement) const {
  static std::atomic<int> calls{0};
  std::string out = dir_.file("psql-" + std::to_string(++calls) + ".out");
  std::error_code ec;
  fs::remove(out, ec);
  int rc = runAs(serverAccount(),
                 {postgresBinDir() + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socket_dir_, "-p",
                  "5432", "-U", "ilpgw", "-d", database, "-c", statement},
                 out);
  std::string text = readFile(out);
  if (rc != 0) throw std::runtime_error("psql failed (" + std::to_string(rc) + "): " + text + " in: " + statement);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace ilpgw::testing
