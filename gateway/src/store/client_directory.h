// The client directory: the systems allowed to call the gateway. Records are
// written through commit() (WriteBatch::clients, with their audit event in
// the same transaction); this role looks them up.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/types.h"

namespace ilpgw {

class ClientDirectory {
 public:
  virtual ~ClientDirectory() = default;

  virtual StatusOr<std::optional<ClientRecord>> findClient(std::string_view client_id) = 0;
  // Every client, revoked ones included, by client id.
  virtual StatusOr<std::vector<ClientRecord>> listClients() = 0;
};

}  // namespace ilpgw
