// The admin console for the gateway's operators (admin accounts only):
// the quarantine (the reason in plain words beside the raw record with the
// offending field marked, "proses ulang" through the same reprocessing as
// POST /admin/quarantine/{id}/$reprocess, and reloading the mapping files
// after fixing one), the outbox's dead letters and their resend, machine
// clients (list, revoke, rotate the secret) and people's accounts (list,
// disable) through the same code as the CLI. Every form carries the
// session's CSRF token; every view and action is an AuditEvent naming the
// person.
#pragma once

#include <httplib.h>

#include <memory>

#include "http/people_pages.h"

namespace ilpgw {

// True for /konsol and the paths under it (http/people_pages.h: isPagePath).
bool isConsolePath(std::string_view path);

void registerConsolePages(httplib::Server& server, std::shared_ptr<PeoplePages> pages);

}  // namespace ilpgw
