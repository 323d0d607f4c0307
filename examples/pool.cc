// Python's Pool example with shoal: map a function over a list on worker
// processes, and a named pool that workers in other programs (on any host)
// serve by name.
//
//   pool ADDRESS AUTHKEY_FILE             4 local workers: prints [1, 4, 9]
//                                         and a sum through starmap
//   pool ADDRESS AUTHKEY_FILE serve NAME  serves the pool called NAME until
//                                         it is closed
//
// Python's
//   def f(x): return x * x
//   with Pool(4) as p: print(p.map(f, [1, 2, 3]))
#include <cstdio>
#include <string>

#include <shoal/shoal.h>

// Functions travel by name: every worker registers the same ones.
shoal::Functions Functions() {
  shoal::Functions fns;
  fns.add("f", [](const shoal::Value::List& args) {
    return shoal::Value(args[0].as_int() * args[0].as_int());
  });
  fns.add("add", [](const shoal::Value::List& args) {
    return shoal::Value(args[0].as_int() + args[1].as_int());
  });
  return fns;
}

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 5 && std::string(argv[3]) == "serve")) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE [serve NAME]\n", argv[0]);
    return 2;
  }
  auto manager = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
  if (argc == 5) {
    shoal::serve_pool(manager, argv[4], Functions());
    return 0;
  }
  shoal::PoolOptions options;
  options.processes = 4;
  shoal::Pool pool(manager, Functions(), options);
  std::printf("%s\n", shoal::Value(pool.map("f", {1, 2, 3})).repr().c_str());
  std::printf("%s\n", shoal::Value(pool.starmap("add", {{1, 2}, {3, 4}})).repr().c_str());
  pool.close();
  pool.join();
  return 0;
}
