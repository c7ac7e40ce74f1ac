// ilp-gateway user: accounts of people who log in to the pages
// (security/users.h). Passwords are read from a file, stdin or the terminal
// (without echo), never from the command line, where `ps` and the shell
// history would keep them.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "security/users.h"
#include "store/store.h"

namespace ilpgw::cli {
namespace {

std::string firstLine(std::istream& in) {
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string askHidden(const char* prompt) {
  std::fputs(prompt, stderr);
  termios old_mode{};
  bool terminal = tcgetattr(STDIN_FILENO, &old_mode) == 0;
  if (terminal) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line = firstLine(std::cin);
  if (terminal) tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::fputs("\n", stderr);
  return line;
}

StatusOr<std::string> readPassword(const Args& args) {
  if (args.password_file == "-") return firstLine(std::cin);
  if (!args.password_file.empty()) {
    std::ifstream in(args.password_file);
    if (!in) return Status(StatusCode::kInvalidArgument, "cannot read " + args.password_file);
    return firstLine(in);
  }
  if (isatty(STDIN_FILENO) == 0) {
    return Status(StatusCode::kInvalidArgument, "no terminal to ask the password on: use --password-file FILE or -");
  }
  std::string first = askHidden("Kata sandi / password: ");
  std::string again = askHidden("Ulangi / repeat: ");
  if (first != again) return Status(StatusCode::kInvalidArgument, "the two passwords differ");
  return first;
}

std::vector<std::string> organizationList(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (char c : text + ",") {
    if (c == ',') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else {
      item.push_back(c);
    }
  }
  return out;
}

}  // namespace

int userCommand(const Args& args) {
  const auto& f = args.files;
  if (f.empty()) return fail("user needs add, list, disable or passwd");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto store = openStore(config.value(), commandStore(false));
  if (!store.isOk()) return fail(store.status().message());
  Store& s = *store.value();
  if (f[0] == "add" && f.size() == 2) {
    auto password = readPassword(args);
    if (!password.isOk()) return fail(password.status().message());
    auto added = addUser(s, s, {f[1], args.role, organizationList(args.org), password.value()}, cliActor());
    if (!added.isOk()) return fail(added.status().message());
    std::printf("user=%s\nrole=%s\norganizations=%s\n", added->username.c_str(), added->role.c_str(),
                added->organizations.empty() ? "*" : added->organizations.c_str());
    return 0;
  }
  if (f[0] == "list" && f.size() == 1) {
    auto users = s.listUsers();
    if (!users.isOk()) return fail(users.status().message());
    std::printf("%-24s %-10s %-32s %s\n", "user", "role", "organizations", "status");
    for (const auto& u : users.value()) {
      std::string status = u.disabled_at.empty() ? "active" : "disabled " + u.disabled_at;
      std::printf("%-24s %-10s %-32s %s\n", u.username.c_str(), u.role.c_str(),
                  u.organizations.empty() ? "*" : u.organizations.c_str(), status.c_str());
    }
    return 0;
  }
  if (f[0] == "disable" && f.size() == 2) {
    Status disabled = disableUser(s, s, f[1], cliActor());
    if (!disabled.isOk()) return fail(disabled.message());
    std::printf("disabled %s\n", f[1].c_str());
    return 0;
  }
  if (f[0] == "passwd" && f.size() == 2) {
    auto password = readPassword(args);
    if (!password.isOk()) return fail(password.status().message());
    Status changed = setUserPassword(s, s, f[1], password.value(), cliActor());
    if (!changed.isOk()) return fail(changed.message());
    std::printf("new password for %s\n", f[1].c_str());
    return 0;
  }
  return fail("usage: user add NAME --role ROLE [--org ORG,...] | list | disable NAME | passwd NAME");
}

}  // namespace ilpgw::cli
