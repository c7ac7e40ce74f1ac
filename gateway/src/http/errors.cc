#include "http/errors.h"

namespace ilpgw {

void sendAnswer(httplib::Response& res, const ErrorAnswer& answer) {
  res.status = answer.http_status;
  for (const auto& [name, value] : answer.headers) res.set_header(name.c_str(), value);
  res.set_content(answer.body, "application/fhir+json");
}

void sendStatus(httplib::Response& res, const Status& status, std::string_view expression) {
  sendAnswer(res, errorAnswer(status, expression));
}

}  // namespace ilpgw
