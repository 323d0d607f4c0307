// A Pipe between two processes, Python's
//   parent_conn, child_conn = Pipe()
//   p = Process(target=f, args=(child_conn,)); p.start()
//   print(parent_conn.recv()); p.join()
// written with shoal: the README's example, run against a live server. The
// child is this program started again (fork, then exec) with the token of its
// end, which it attaches in a session of its own.
// Usage: pipe ADDRESS AUTHKEY_FILE
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <shoal/shoal.h>

namespace {

// Python's f(conn): runs in the child.
void f(shoal::ConnectionProxy conn) {
  conn.send(shoal::Value::list({42, nullptr, "hello"}));
  std::printf("child got %s\n", conn.recv().repr().c_str());  // 'thanks'
  conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s ADDRESS AUTHKEY_FILE\n", argv[0]);
    return 2;
  }
  try {
    auto m = shoal::Manager::connect(argv[1], shoal::AuthKey::from_file(argv[2]));
    if (argc == 4) {  // The child, started below with the token of its end.
      f(m.attach<shoal::ConnectionProxy>(argv[3]));
      return 0;
    }
    auto [parent_conn, child_conn] = m.Pipe();
    const std::string token = child_conn.token();
    const pid_t p = fork();  // Process(target=f, args=(child_conn,)).start()
    if (p == 0) {
      execl("/proc/self/exe", argv[0], argv[1], argv[2], token.c_str(), nullptr);
      _exit(127);
    }
    const shoal::Value got = parent_conn.recv();
    std::printf("parent got %s\n", got.repr().c_str());  // [42, None, 'hello']
    parent_conn.send("thanks");
    bool eof = false;
    try {
      parent_conn.recv();
    } catch (const shoal::EOFError&) {  // The child closed its end.
      eof = true;
    }
    int status = 0;
    waitpid(p, &status, 0);  // p.join()
    const bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return got.repr() == "[42, None, 'hello']" && eof && child_ok ? 0 : 1;
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "%s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
}
