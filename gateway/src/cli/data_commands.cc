// ilp-gateway store | quarantine | outbox: the data directory offline.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ingest/adapter_tools.h"
#include "security/audit.h"
#include "security/clients.h"
#include "base/config.h"
#include "security/token_service.h"
#include "ingest/gateway.h"
#include "ingest/quarantine.h"
#include "base/log.h"
#include "fhir/fhir_validator.h"
#include "fhir/outcome.h"
#include "fhir/resource_text.h"
#include "http/server.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "store/store_copy.h"

namespace ilpgw::cli {

namespace {

// Rewrites the search index rows of every current resource from today's
// search-parameter table (fhir/search_params.cc), page by page in commit
// order; content and versions stay as they are. Safe while the gateway runs.
int reindexStore(Store& store) {
  long long total = 0;
  for (const auto& type : fhir::supportedResourceTypes()) {
    SearchQuery query;
    query.type = type;
    query.limit = 500;
    query.want_total = false;
    for (;;) {
      auto page = store.search(query);
      if (!page.isOk()) return fail("reindex " + type + ": " + page.status().message());
      WriteBatch batch;
      for (const auto& r : page->resources) {
        rapidjson::Document doc;
        if (json::parse(r.json, doc)) return fail("reindex: " + r.type + "/" + r.id + " is not JSON");
        ResourceWrite write = prepareResource(doc);
        write.organization = r.organization;  // the owner stays the owner
        write.refresh_index = true;
        batch.resources.push_back(std::move(write));
      }
      if (!batch.resources.empty()) {
        auto committed = store.commit(std::move(batch));
        if (!committed.isOk()) return fail("reindex " + type + ": " + committed.status().message());
        total += static_cast<long long>(page->resources.size());
      }
      if (!page->more || page->resources.empty()) break;
      query.after_seq = page->resources.back().seq;
    }
  }
  std::printf("reindexed %lld resources\n", total);
  return 0;
}

}  // namespace

// ilp-gateway store copy --from sqlite:DIR --to postgresql:URL
int copyStore(const Args& args) {
  if (args.from.rfind("sqlite:", 0) != 0 || args.to.rfind("postgresql:", 0) != 0) {
    return fail("usage: store copy --from sqlite:DIR --to postgresql:URL");
  }
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  ilpgw::Config target = config.value();
  target.store_backend = "postgresql";
  target.store_url = args.to.substr(11);
  ilpgw::PgOptions pg;
  pg.url = target.store_url;
  if (!target.store_password_file.empty()) {
    std::ifstream in(target.store_password_file);
    if (!in) return fail("store.password_file " + target.store_password_file + " cannot be read");
    std::getline(in, pg.password);
    while (!pg.password.empty() && (pg.password.back() == '\r' || pg.password.back() == '\n')) pg.password.pop_back();
  }
  std::string source = args.from.substr(7) + "/gateway.db";
  auto copied = ilpgw::copySqliteToPostgres(source, pg);
  if (!copied.isOk()) return fail(copied.status().message());
  for (const auto& table : copied.value()) {
    std::printf("%-18s %10lld rows  sha256 %s\n", table.table.c_str(), static_cast<long long>(table.rows),
                table.digest.substr(0, 16).c_str());
  }
  // The copy as the gateway will see it: integrity and the audit chain.
  auto store = ilpgw::openStore(target, commandStore());
  if (!store.isOk()) return fail(store.status().message());
  ilpgw::Status integrity = store.value()->checkIntegrity();
  if (!integrity.isOk()) return fail(integrity.message());
  auto chain = ilpgw::verifyAuditChain(*store.value());
  if (!chain.isOk()) return fail(chain.status().message());
  if (!chain.value().ok) return fail("audit chain of the copy is broken: " + chain.value().problem);
  std::printf("copied %s to %s: ok, verified (%lld audit events chained)\n", source.c_str(),
              ilpgw::storeLocation(target).c_str(), static_cast<long long>(chain.value().checked));
  return 0;
}

int storeCommand(const Args& args) {
  if (args.files.size() == 1 && args.files[0] == "copy") return copyStore(args);
  if (args.files.size() == 1 && args.files[0] == "reindex") {
    auto config = buildConfig(args);
    if (!config.isOk()) return fail(config.status().message());
    auto store = ilpgw::openStore(config.value(), commandStore());
    if (!store.isOk()) return fail(store.status().message());
    return reindexStore(*store.value());
  }
  if (args.files.size() != 1 || args.files[0] != "check") {
    return fail("usage: store check|reindex --data DIR, store copy --from sqlite:DIR --to postgresql:URL");
  }
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  std::string path = ilpgw::storeLocation(config.value());
  auto store = ilpgw::openStore(config.value(), commandStore());
  if (!store.isOk()) return fail(store.status().message());
  ilpgw::Status integrity = store.value()->checkIntegrity();
  if (!integrity.isOk()) {
    std::printf("%s: %s\n", path.c_str(), integrity.message().c_str());
    return 1;
  }
  auto stats = store.value()->stats();
  std::printf("%s: ok, schema version %d", path.c_str(), store.value()->schemaVersion());
  if (stats.isOk()) {
    std::printf(" (%lld resources, %lld versions, %lld payloads, %lld open quarantine entries)",
                static_cast<long long>(stats->resources), static_cast<long long>(stats->versions),
                static_cast<long long>(stats->payloads), static_cast<long long>(stats->quarantined_open));
  }
  std::printf("\n");
  return 0;
}

int quarantineCommand(const Args& args) {
  std::string sub = args.files.empty() ? "" : args.files[0];
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  if (sub == "list" || sub == "show") {
    auto store = ilpgw::openStore(config.value(), commandStore(false));
    if (!store.isOk()) return fail(store.status().message());
    if (sub == "show") {
      long long id = 0;
      if (args.files.size() != 2 || !parseId(args.files[1], id)) return fail("usage: quarantine show ID");
      auto entry = store.value()->readQuarantine(id);
      if (!entry.isOk()) return fail(entry.status().message());
      if (!entry.value()) return fail("quarantine entry " + args.files[1] + " does not exist");
      std::cout << ilpgw::quarantineEntryJson(*entry.value(), true) << "\n";
      return 0;
    }
    ilpgw::QuarantineFilter filter;
    filter.status = args.status;
    filter.adapter = args.adapter;
    filter.after_id = args.after;
    filter.limit = args.limit;
    auto page = store.value()->listQuarantine(filter);
    if (!page.isOk()) return fail(page.status().message());
    for (const auto& entry : page.value()) std::cout << ilpgw::quarantineEntryJson(entry, false) << "\n";
    return 0;
  }
  if (sub != "reprocess") return fail("usage: quarantine list|show|reprocess (see --help)");
  long long id = 0;
  bool one = args.files.size() == 2 && parseId(args.files[1], id);
  if (one == args.all) return fail("usage: quarantine reprocess ID|--all [--adapter NAME]");
  auto gateway = ilpgw::Gateway::start(config.value(), {}, false);
  if (!gateway.isOk()) return fail(gateway.status().message());
  std::vector<ilpgw::ReprocessResult> results;
  if (one) {
    results.push_back(ilpgw::reprocessQuarantine(*gateway.value(), id));
  } else {
    ilpgw::QuarantineFilter filter;
    filter.adapter = args.adapter;
    results = ilpgw::reprocessQuarantineMatching(*gateway.value(), filter, 1000000);
  }
  int code = 0;
  for (const auto& r : results) {
    std::cout << ilpgw::reprocessResultJson(r) << "\n";
    if (r.http_status != 200) code = 2;
    else if (r.status != "resolved" && code == 0) code = 1;
  }
  return code;
}

int outboxCommand(const Args& args) {
  std::string sub = args.files.empty() ? "" : args.files[0];
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto store = ilpgw::openStore(config.value(), commandStore(false));
  if (!store.isOk()) return fail(store.status().message());
  if (sub == "list") {
    auto page = store.value()->listOutbox(args.state, args.after, args.limit);
    if (!page.isOk()) return fail(page.status().message());
    for (const auto& item : page.value()) {
      std::printf("%lld %s/%s/_history/%lld %s attempts=%d %s\n", static_cast<long long>(item.seq), item.type.c_str(),
                  item.id.c_str(), static_cast<long long>(item.version), item.state.c_str(), item.attempts,
                  item.last_error.c_str());
    }
    return 0;
  }
  if (sub == "resend") {
    long long seq = 0;
    bool one = args.files.size() == 2 && parseId(args.files[1], seq);
    if (one == args.all) return fail("usage: outbox resend SEQ|--all");
    auto changed = store.value()->resendOutbox(one ? seq : 0);
    if (!changed.isOk()) return fail(changed.status().message());
    std::printf("requeued %lld\n", static_cast<long long>(changed.value()));
    return one && changed.value() == 0 ? 1 : 0;
  }
  return fail("usage: outbox list|resend (see --help)");
}

}  // namespace ilpgw::cli
