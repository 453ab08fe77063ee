"""When lastmile asks: slot planning, caps and quiet hours, and the jobs that act on them."""
