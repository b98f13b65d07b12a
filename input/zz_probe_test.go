package input
import ("testing")
func TestZZProbe(t *testing.T){
 for _,extra:=range []string{
  "checkpoint_limit: abc","channels_x: 1","initial_replay_ids: {/event/Order__e: abc}","backoff: {initial_interval: abc}","backoff: {long_interval: -1s}","auto_replay_nacks: maybe","tls: {enabled: true, root_cas: notapem}","proxy_url: [x]",
 }{
  t.Logf("%s\n   => %q", extra, lintInput(t, validYAML+extra))
 }
}
