#!/usr/bin/env bash
# Trains a zstd dictionary for the SQLite store's compressed text (resource
# bodies and audit events, gateway/src/store/stored_text.h) from the FHIR
# resources of the adapters' golden files and the documented examples, one
# sample per resource, in the order the gateway writes their members.
#   scripts/train-store-dictionary.sh OUT.zdict DICT_ID
# Needs the zstd command (Debian package zstd) and RapidJSON (rapidjson-dev).
#
# A store keeps every frame it wrote with the dictionary that wrote it, so a
# dictionary in use is never replaced or retrained in place: a new one gets a
# new DICT_ID (from 32768 to 2^31-1, zstd's range for private dictionaries)
# and a file of its own, and every earlier one stays compiled in.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: train-store-dictionary.sh OUT.zdict DICT_ID}
id=${2:?usage: train-store-dictionary.sh OUT.zdict DICT_ID}
command -v zstd >/dev/null || { echo "zstd missing: apt-get install zstd" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every object with a resourceType (but Bundles and OperationOutcomes, which
# are not stored) becomes one sample file, written compact with its members in
# their order.
c++ -std=c++20 -O1 -x c++ -o "$work/split" - <<'CC'
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
static int count = 0;
static std::string dir;
static void walk(const rapidjson::Value& v) {
  if (v.IsObject()) {
    auto type = v.FindMember("resourceType");
    if (type != v.MemberEnd() && type->value.IsString() && std::string(type->value.GetString()) != "Bundle" &&
        std::string(type->value.GetString()) != "OperationOutcome") {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      v.Accept(writer);
      std::ofstream(dir + "/r" + std::to_string(count++) + ".json") << buffer.GetString();
    }
    for (const auto& m : v.GetObject()) walk(m.value);
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) walk(e);
  }
}
int main(int argc, char** argv) {
  dir = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::ifstream f(argv[i]);
    std::stringstream text;
    text << f.rdbuf();
    rapidjson::Document doc;
    if (!doc.Parse(text.str().c_str()).HasParseError()) walk(doc);
  }
  std::cout << count << " resources\n";
}
CC
mkdir "$work/samples"
"$work/split" "$work/samples" plugins/*/samples/*.expected.json docs/examples/*.json
zstd -q --train "$work"/samples/* --maxdict=16384 --dictID="$id" -o "$out"
echo "dictionary $id: $out ($(stat -c %s "$out") bytes)"
