/* odac-learner: thin main over learner_server (see learner_server.h). */
#include "learner_server.h"
#include "parent_watch.h"

int main(int argc, char **argv) {
    parent_watch_from_env();
    return learner_server_main(argc, argv);
}
