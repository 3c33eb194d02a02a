"""What the runs leave on disk: result tables (:mod:`.tables`), ``summary.json``
(:mod:`.summary`), the warm-start state file (:mod:`.warm_start`), figures (:mod:`.plots`), each
command's set of outputs (:mod:`.writers`) and the output folders they are written into
(:mod:`.output`)."""
