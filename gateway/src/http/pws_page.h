// The PWS page for people: GET /pws (one row per desa, one column per
// indicator, a trend chart per indicator drawn by Chart.js from Debian's
// libjs-chart.js), GET /pws.csv (the same figures to download), and the
// page's script and Chart.js itself under /aset/. The figures come from
// report::PwsService::month(), the same evaluation as $evaluate-measure.
// Who sees what: a puskesmas user their own puskesmas, a district user the
// listed (or every) puskesmas. Every view is audited.
#pragma once

#include <httplib.h>

#include <memory>

#include "http/people_pages.h"
#include "report/pws_service.h"

namespace ilpgw {

// Where Debian's libjs-chart.js installs Chart.js (UMD build, global Chart).
inline constexpr const char* kChartJsPath = "/usr/share/javascript/chart.js/chart.min.js";

void registerPwsPage(httplib::Server& server, std::shared_ptr<PeoplePages> pages,
                     std::shared_ptr<report::PwsService> pws);

}  // namespace ilpgw
