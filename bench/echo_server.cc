// The ceiling for bench/run.sh: a minimal cpp-httplib HTTPS server tuned like
// the gateway (thread pool, TCP_NODELAY, keep-alive) that only parses the
// posted JSON and echoes it back. Not a test.
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
  server.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(req.body.data(), req.body.size());
    if (doc.HasParseError()) {
      res.status = 400;
      return;
    }
    res.status = 201;
    res.set_content(req.body, "application/json");
  });
  server.Get("/echo", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"resourceType":"Patient","id":"x","gender":"female"})", "application/json");
  });
  std::printf("echo listening\n");
  std::fflush(stdout);
  server.listen("127.0.0.1", std::stoi(argv[3]));
}
