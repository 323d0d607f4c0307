// A Pipe between two processes, Python's
//   parent_conn, child_conn = Pipe()
//   p = Process(target=f, args=(child_conn,)); p.start()
//   print(parent_conn.recv()); p.join()
// written with shoal: the README's example, run against a live server. The
// child is forked by shoal::Process and uses the end it inherited, in a
// session of its own.
// Usage: pipe ADDRESS AUTHKEY_FILE
#include <cstdio>

#include <shoal/shoal.h>

// Python's f(conn): runs in the child.
void f(shoal::ConnectionProxy conn) {
  conn.send(shoal::Value::list({42, nullptr, "hello"}));
  std::printf("child got %s\n", conn.recv().repr().c_str());  // 'thanks'
  conn.close();
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE\n", argv[0]);
    return 2;
  }
  try {
    auto m = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
    auto [parent_conn, child_conn] = m.Pipe();  // m.Pipe(false): one way
    shoal::Process p([conn = child_conn] { f(conn); });
    p.start();
    const shoal::Value got = parent_conn.recv();
    std::printf("parent got %s\n", got.repr().c_str());  // [42, None, 'hello']
    parent_conn.send("thanks");
    bool eof = false;
    try {
      parent_conn.recv();
    } catch (const shoal::EOFError&) {  // The child closed its end.
      eof = true;
    }
    p.join();
    return got.repr() == "[42, None, 'hello']" && eof && p.exitcode() == 0 ? 0 : 1;
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
}
