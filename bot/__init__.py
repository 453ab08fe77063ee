"""lastmile: in-the-moment check-ins on whether an AI pilot helps frontline people."""
