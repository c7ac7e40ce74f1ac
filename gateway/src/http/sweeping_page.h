// The sweeping lists page for a kader coordinator (daftar sasaran yang belum
// dilayani): GET /daftar-sasaran, for one puskesmas and month, the people
// behind each gap that a kader should visit: pregnant women without their
// next antenatal contact, babies whose basic immunization is not complete
// and who got no dose this month, TB suspects without a laboratory test.
// Each list is a Measure in mappings/sweeping/ (the criteria language of
// docs/pws.md; the list is its denominator minus its numerator), evaluated by
// report::PwsService::sweepingLists(). Names are shown to logged-in people
// of that puskesmas only, and every view is audited with the patients shown.
#pragma once

#include <httplib.h>

#include <memory>

#include "http/people_pages.h"
#include "report/measure.h"
#include "report/pws_service.h"

namespace ilpgw {

void registerSweepingPage(httplib::Server& server, std::shared_ptr<PeoplePages> pages,
                          std::shared_ptr<report::PwsService> pws, std::shared_ptr<const report::MeasureLibrary> lists);

}  // namespace ilpgw
