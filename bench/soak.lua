-- wrk script for bench/soak.sh: a clinic's steady mix, alternating a posted
-- ePuskesmas visit (new visit id and NIK each time) and a pull of the latest
-- Observations. SOAK_DELAY_MS (default 50) paces each connection so the load
-- stays moderate: the point is hours of steady use, not peak rate.
local token = os.getenv("BENCH_TOKEN") or ""
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "50")
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  math.randomseed(id * 7919 + os.time())
  counter = math.random(1, 1000000) * 10
end

local template = [[{"id_kunjungan":"SOAK-%d-%d","waktu":"2024-11-27T08:40:00","poli":"UMUM",
"pasien":{"no_rm":"S%d%d","nik":"62030112046%05d","nama":"PASIEN UJI","jk":"P","tgl_lahir":"1971-02-03",
"alamat":{"jalan":"Jl. Uji 2","desa":"Selat Hulu","kode_desa":"6203011003"}},
"pemeriksaan":{"td":"118/76","nadi":76,"suhu":36.5,"rr":18,"bb":55.1,"tb":152},
"diagnosa":[{"icd10":"E11.9","nama":"Type 2 diabetes mellitus","jenis":"primer","kasus":"lama"}],
"tenaga_medis":{"nik":"6203015203800001","nama":"dr. Uji","profesi":"dokter"}}]]

function delay()
  return delay_ms
end

function request()
  counter = counter + 1
  local auth = "Bearer " .. token
  if counter % 2 == 0 then
    local body = string.format(template, thread_id, counter, thread_id, counter, counter % 100000)
    return wrk.format("POST", "/ingest/epuskesmas-json",
                      {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
  end
  return wrk.format("GET", "/fhir/Observation?_count=20", {["Authorization"] = auth})
end
