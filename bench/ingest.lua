-- wrk script: posts ePuskesmas visits, each with its own visit id and NIK so
-- every request stores new resources (no "unchanged" shortcut).
-- PATH is taken from the environment (default /ingest/epuskesmas-json);
-- BENCH_THREAD_OFFSET keeps the visit ids of several wrk processes apart.
local path = os.getenv("BENCH_PATH") or "/ingest/epuskesmas-json"
local thread_offset = tonumber(os.getenv("BENCH_THREAD_OFFSET") or "0")
local token = os.getenv("BENCH_TOKEN") or ""
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id + thread_offset
  math.randomseed(id * 7919 + os.time())
end

local template = [[{"id_kunjungan":"BENCH-%d-%d","waktu":"2024-11-27T08:40:00","poli":"UMUM",
"pasien":{"no_rm":"B%d%d","nik":"62030112045%05d","nama":"PASIEN UJI","jk":"L","tgl_lahir":"1958-04-12",
"alamat":{"jalan":"Jl. Uji 1","desa":"Selat Hulu","kode_desa":"6203011003"}},
"pemeriksaan":{"td":"128/84","nadi":80,"suhu":36.7,"rr":19,"bb":68.4,"tb":165},
"diagnosa":[{"icd10":"I10","nama":"Hypertension","jenis":"primer","kasus":"lama"}],
"tenaga_medis":{"nik":"6203015203800001","nama":"dr. Uji","profesi":"dokter"}}]]

function request()
  counter = counter + 1
  local body = string.format(template, thread_id, counter, thread_id, counter, (thread_id * 100000 + counter) % 100000)
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if status ~= 201 and status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
