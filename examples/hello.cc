// A first shoal client: the README's example, run against a live server.
// Usage: hello ADDRESS AUTHKEY_FILE
#include <cstdio>

#include <shoal/shoal.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE\n", argv[0]);
    return 2;
  }
  try {
    auto m = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
    shoal::ListProxy jobs = m.list();
    shoal::DictProxy results = m.dict("results");
    jobs.append(1);
    jobs.extend({2, "three", 4.0});
    results.set("jobs", jobs);
    shoal::ValueProxy counter = m.Value("q", 0, "counter");
    counter.add(1);
    std::printf("jobs = %s\nresults = %s\ncounter = %s\n", jobs.str().c_str(),
                results.str().c_str(), counter.str().c_str());
    return jobs[0].as_int() == 1 && shoal::ListProxy(results["jobs"]).len() == 4 ? 0 : 1;
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
}
