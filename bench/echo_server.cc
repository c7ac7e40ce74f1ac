// The ceiling for bench/run.sh: a minimal cpp-httplib HTTPS server tuned like
// the gateway (thread pool, TCP_NODELAY, keep-alive) that only parses the
// posted JSON and answers it back, or a body of the gateway's size. Not a test.
#include <httplib.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: echo_server CERT KEY PORT\n");
    return 2;
  }
  httplib::SSLServer server(argv[1], argv[2]);
  if (!server.is_valid()) return 1;
  server.new_task_queue = [] { return new httplib::ThreadPool(128); };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100000);
  // ?bytes=N: the answer is a JSON body of N bytes, so the ceiling sends what
  // the gateway sends (bench/run.sh measures the gateway's answer first).
  auto answer = [](const httplib::Request& req, httplib::Response& res, const std::string& otherwise) {
    if (!req.has_param("bytes")) {
      res.set_content(otherwise, "application/json");
      return;
    }
    size_t bytes = std::stoul(req.get_param_value("bytes"));
    std::string body = R"({"p":")";
    body.append(bytes > body.size() + 2 ? bytes - body.size() - 2 : 0, 'x');
    body += "\"}";
    res.set_content(body, "application/json");
  };
  server.Post("/echo", [answer](const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(req.body.data(), req.body.size());
    if (doc.HasParseError()) {
      res.status = 400;
      return;
    }
    res.status = 201;
    answer(req, res, req.body);
  });
  server.Get("/echo", [answer](const httplib::Request& req, httplib::Response& res) {
    answer(req, res, R"({"resourceType":"Patient","id":"x","gender":"female"})");
  });
  std::printf("echo listening\n");
  std::fflush(stdout);
  server.listen("127.0.0.1", std::stoi(argv[3]));
}
