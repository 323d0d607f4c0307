// Python's Manager example with shoal: a child process, forked after the
// Manager has connected, changes a dict and a list through the proxies it
// inherited; the parent prints them once the child has ended.
// Usage: process_dict_list ADDRESS AUTHKEY_FILE
#include <cstdio>

#include <shoal/shoal.h>

// Python's f(d, l).
void f(shoal::DictProxy d, shoal::ListProxy l) {
  d.set(1, "1");
  d.set("2", 2);
  d.set(0.25, shoal::Value());
  l.reverse();
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE\n", argv[0]);
    return 2;
  }
  auto manager = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
  shoal::DictProxy d = manager.dict();
  shoal::ListProxy l = manager.list(shoal::Value::List{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  shoal::Process p([d, l] { f(d, l); });
  p.start();
  p.join();

  std::printf("%s\n%s\n", d.str().c_str(), l.str().c_str());
  return p.exitcode() == 0 ? 0 : 1;
}
