/* odac-learner: thin main over learner_server (see learner_server.h). */
#include "learner_server.h"

int main(int argc, char **argv) {
    return learner_server_main(argc, argv);
}
