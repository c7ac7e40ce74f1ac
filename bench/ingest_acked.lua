-- wrk script: like ingest.lua (distinct visits, so every post stores new
-- resources), but counts only acknowledged posts (2xx: durable on disk) and
-- prints them per second at the end with the p99 and p50 latency in ms.
-- Env: BENCH_PATH, BENCH_SECONDS.
local path = os.getenv("BENCH_PATH") or "/ingest/epuskesmas-json"
local token = os.getenv("BENCH_TOKEN") or ""
local threads = {}
local counter = 0
acked = 0
refused = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local template = [[{"id_kunjungan":"ACK-%d-%d-%d","waktu":"2024-11-27T08:40:00","poli":"UMUM",
"pasien":{"no_rm":"A%d%d","nik":"62030112045%05d","nama":"PASIEN UJI","jk":"L","tgl_lahir":"1958-04-12",
"alamat":{"jalan":"Jl. Uji 1","desa":"Selat Hulu","kode_desa":"6203011003"}},
"pemeriksaan":{"td":"128/84","nadi":80,"suhu":36.7,"rr":19,"bb":68.4,"tb":165},
"diagnosa":[{"icd10":"I10","nama":"Hypertension","jenis":"primer","kasus":"lama"}],
"tenaga_medis":{"nik":"6203015203800001","nama":"dr. Uji","profesi":"dokter"}}]]
local run = os.time()

function request()
  counter = counter + 1
  local body = string.format(template, run, id, counter, id, counter, (id * 100000 + counter) % 100000)
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then acked = acked + 1 else refused = refused + 1 end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("acked")
    r = r + t:get("refused")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("ACKED %.0f %d %d %.1f %.1f\n", a / seconds, a, r, latency:percentile(99) / 1000,
                         latency:percentile(50) / 1000))
end
