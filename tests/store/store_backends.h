// The store suite runs against every backend: a value-parameterised fixture
// base (StoreBackendTest) whose parameter names the backend, and a place per
// test where that backend keeps its store (a temporary SQLite file, or a new
// database on the process's PostgreSQL server, tests/support/postgres_server.h).
// Reopening opens the same place again.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/config.h"
#include "postgres_server.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "test_support.h"

namespace ilpgw::testing {

enum class Backend { kSqlite, kPostgres };

// A search of `type` with one clause: `param` (of `kind`) matching `value`.
inline SearchQuery searchOne(std::string type, SearchKind kind, std::string param, SearchValue value) {
  SearchQuery query;
  query.type = std::move(type);
  SearchClause clause;
  clause.kind = kind;
  clause.param = std::move(param);
  clause.any_of.push_back(std::move(value));
  query.all_of.push_back(std::move(clause));
  return query;
}

inline std::string backendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "sqlite" : "postgresql";
}

#define ILPGW_ALL_BACKENDS(Suite)                                                                              \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                                    \
                           ::testing::Values(::ilpgw::testing::Backend::kSqlite,                               \
                                             ::ilpgw::testing::Backend::kPostgres),                            \
                           ::ilpgw::testing::backendName)

// Where one test's store lives.
class StorePlace {
 public:
  explicit StorePlace(Backend backend) : backend_(backend) {
    config_.data_dir = dir_.file("data");
    if (backend_ == Backend::kPostgres) {
      PostgresServer& server = PostgresServer::shared();
      database_ = server.createDatabase();
      config_.store_backend = "postgresql";
      config_.store_url = server.url(database_);
    }
  }

  Backend backend() const { return backend_; }
  bool postgres() const { return backend_ == Backend::kPostgres; }
  // A Config whose openStore() opens this place.
  const Config& config() const { return config_; }
  const std::string& database() const { return database_; }

  // Opens (or reopens) the store here.
  std::unique_ptr<Store> open(bool outbox = false, int batch_max = 64) const {
    StatusOr<std::unique_ptr<Store>> store = Status(StatusCode::kInternal, "unopened");
    if (backend_ == Backend::kSqlite) {
      std::filesystem::create_directories(config_.data_dir);
      SqliteOptions options{config_.storePath(), batch_max};
      options.outbox = outbox;
      store = openSqliteStore(options);
    } else {
      PgOptions options;
      options.url = config_.store_url;
      options.batch_max = batch_max;
      options.outbox = outbox;
      store = openPgStore(options);
    }
    EXPECT_TRUE(store.isOk()) << store.status().message();
    if (!store.isOk()) return nullptr;
    return std::move(store.value());
  }

 private:
  Backend backend_;
  TempDir dir_;
  Config config_;
  std::string database_;
};

class StoreBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  StoreBackendTest() : place_(GetParam()) {}
  std::unique_ptr<Store> open(bool outbox = false, int batch_max = 64) const { return place_.open(outbox, batch_max); }
  bool postgres() const { return place_.postgres(); }
  StorePlace place_;
};

}  // namespace ilpgw::testing
