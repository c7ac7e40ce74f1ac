// The status page (GET /status) for district and puskesmas staff: in one
// look, green, yellow or red for every connected clinic system, today's
// posts and refused records with their top reasons in plain words, the
// quarantine, forwarding, the certificate, the disk, the store and the
// version (ingest/installation_status.h gathers them). Behind the people
// logins; a puskesmas account sees only its own organization, admin accounts
// and district accounts without an organization list the whole
// installation. Every view is audited.
#pragma once

#include <httplib.h>

#include <memory>

#include "http/people_pages.h"

namespace ilpgw {

void registerStatusPage(httplib::Server& server, std::shared_ptr<PeoplePages> pages);

}  // namespace ilpgw
