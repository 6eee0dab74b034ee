/* enroll.h - `dockline-agent enroll` and `dockline-agent check`: the
 * host-side half of onboarding. enroll writes agent.conf, pins the
 * collector's host key (given, or fetched and confirmed by a person or a
 * --trust fingerprint: never trusted silently) and prints what to run on
 * the collector host. check says in plain words what is wrong. */
#ifndef DL_AGENT_ENROLL_H
#define DL_AGENT_ENROLL_H

int dl_enroll_main(int argc, char **argv);
int dl_check_main(int argc, char **argv);

#endif
